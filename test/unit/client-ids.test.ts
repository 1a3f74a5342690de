/**
 * Client message ids are the sends' idempotency keys: v4 UUIDs, also on a page served over
 * plain http from a LAN address, where `crypto.randomUUID` does not exist.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { newClientId } from "../../client/index.ts";

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

afterEach(() => {
	vi.unstubAllGlobals();
});

describe("newClientId", () => {
	it("is a v4 UUID from crypto.randomUUID where there is one", () => {
		expect(newClientId()).toMatch(V4);
	});

	it("builds the same format from getRandomValues outside a secure context, and never repeats", () => {
		const real = crypto;
		vi.stubGlobal("crypto", { getRandomValues: (array: Uint8Array): Uint8Array => real.getRandomValues(array) });
		expect(crypto.randomUUID).toBeUndefined();
		const ids = Array.from({ length: 1000 }, () => newClientId());
		for (const id of ids) expect(id).toMatch(V4);
		expect(new Set(ids).size).toBe(ids.length);
	});
});
