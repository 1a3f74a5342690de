/**
 * The Node file adapter for the client's persistent outbox (runs in Node, beside the e2e tests):
 * what one client leaves unsent, the next one on the same folder restores, exactly as it was.
 */
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileStorage } from "../../client/storage-file.ts";

describe("fileStorage", () => {
	it("keeps values across instances, replaces them whole, and leaves no temporary files", async () => {
		const folder = mkdtempSync(join(tmpdir(), "parley-outbox-"));
		const first = fileStorage(folder);
		expect(await first.get("parley.outbox:host:lobby:guest:ann")).toBeUndefined();
		await first.set("parley.outbox:host:lobby:guest:ann", '[{"id":"1","text":"one"}]');
		await first.set("parley.outbox:host:lobby:guest:ann", '[{"id":"1","text":"one"},{"id":"2","text":"two"}]');
		const second = fileStorage(folder);
		expect(await second.get("parley.outbox:host:lobby:guest:ann")).toBe('[{"id":"1","text":"one"},{"id":"2","text":"two"}]');
		expect(readdirSync(folder)).toHaveLength(1);
		await second.delete("parley.outbox:host:lobby:guest:ann");
		await second.delete("parley.outbox:host:lobby:guest:ann");
		expect(await second.get("parley.outbox:host:lobby:guest:ann")).toBeUndefined();
		expect(readdirSync(folder)).toEqual([]);
	});
});
