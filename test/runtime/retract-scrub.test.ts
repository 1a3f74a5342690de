/**
 * A retract removes the content everywhere it is stored. Each case cross-posts a message with
 * a unique marker text, retracts the original one way or another, waits for every copy to be
 * retracted and every feed to be shipped, then reads every table of every object that took
 * part (the origin, each target, an operator moderation if any, every ops index shard and
 * every author directory shard) and looks for the marker.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, it, vi } from "vitest";
import { configFor } from "../../src/config.ts";
import type { ModerationView } from "../../src/ops/moderation.ts";
import { shardName } from "../../src/ops/shard.ts";
import type { SagaView } from "../../src/saga/types.ts";
import { TASK_RETENTION_MS } from "../../objects/outbox.ts";
import { advanceClock, api, freshRoom, token } from "./helpers.ts";

const author = await token({ sub: "scrub-author", name: "Scrub Author" });
const adminToken = await token({ sub: "scrub-ops", name: "Ops", role: "admin" });

async function waitFor<T>(what: () => Promise<T | undefined | false>, timeout = 15_000): Promise<T> {
	return (await vi.waitUntil(async () => (await what()) || undefined, { timeout, interval: 25 })) as T;
}

interface TableDump {
	table: string;
	rows: unknown[];
}

/** Every row of every table of one Durable Object, and its key-value entries. */
async function dump(stub: DurableObjectStub): Promise<TableDump[]> {
	return await runInDurableObject(stub, async (_instance, state) => {
		const sql = state.storage.sql;
		const tables = sql
			.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
			.toArray()
			.map((t) => t.name);
		const out: TableDump[] = [];
		for (const table of tables) {
			try {
				out.push({ table, rows: sql.exec(`SELECT * FROM "${table.replaceAll('"', '""')}"`).toArray() });
			} catch (error) {
				// The runtime's own tables (_cf_*) cannot be read with SQL; the KV API reads _cf_KV below.
				if (!table.startsWith("_cf_")) throw error;
			}
		}
		out.push({ table: "(kv)", rows: [...(await state.storage.list()).entries()] });
		return out;
	});
}

/** Blobs (FTS5's segments among them) as their bytes, so a word stored in one is found too. */
function readable(_key: string, value: unknown): unknown {
	return value instanceof ArrayBuffer ? new TextDecoder("latin1").decode(value) : value;
}

/** The tables (and rows) of these objects that mention `marker`. */
async function holding(marker: string, objects: Record<string, DurableObjectStub>): Promise<string[]> {
	const found: string[] = [];
	for (const [name, stub] of Object.entries(objects)) {
		for (const { table, rows } of await dump(stub)) {
			for (const row of rows) {
				const text = JSON.stringify(row, readable);
				if (text.includes(marker)) found.push(`${name}.${table}: ${text.slice(0, 300)}`);
			}
		}
	}
	return found;
}

/** Every object a cross-post of `origin` to `targets` can leave data in, by a readable name. */
function objectsOf(origin: string, targets: string[], moderation?: string): Record<string, DurableObjectStub> {
	const shards = configFor(env).opsIndexShards;
	const objects: Record<string, DurableObjectStub> = { [`room ${origin}`]: env.ROOM.getByName(origin) };
	for (const room of targets) objects[`room ${room}`] = env.ROOM.getByName(room);
	if (moderation !== undefined) objects[`moderation ${moderation}`] = env.MODERATION.getByName(moderation);
	for (let i = 0; i < shards; i++) {
		objects[`ops index ${shardName(i)}`] = env.OPS_INDEX.getByName(shardName(i));
		objects[`authors ${shardName(i)}`] = env.AUTHORS.getByName(shardName(i));
	}
	return objects;
}

async function crossPost(origin: string, targets: string[], marker: string): Promise<{ msgId: string; sagaId: string }> {
	const response = await api(`/v1/rooms/${origin}/messages`, {
		method: "POST",
		body: JSON.stringify({ id: crypto.randomUUID(), text: `the launch code is ${marker}, keep it quiet`, crossPost: targets }),
		token: author,
	});
	if (response.status !== 201) throw new Error(`post: ${response.status} ${await response.text()}`);
	const sent = (await response.json()) as { msgId: string; sagaId?: string };
	if (sent.sagaId === undefined) throw new Error("no saga");
	return { msgId: sent.msgId, sagaId: sent.sagaId };
}

async function sagaState(origin: string, sagaId: string): Promise<SagaView["state"] | undefined> {
	return (await env.ROOM.getByName(origin).saga(sagaId))?.state;
}

/** Waits until these objects (rooms by name) have nothing left to do: no live task, no unshipped feed row, no pending alert. */
async function quiet(objects: Array<string | DurableObjectStub>): Promise<void> {
	for (const object of objects) {
		await waitFor(
			async () =>
				await runInDurableObject(typeof object === "string" ? env.ROOM.getByName(object) : object, (_i, state) => {
					const sql = state.storage.sql;
					const live = sql
						.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE state IN ('pending', 'processing')")
						.one().n;
					const feed = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM ops_feed").one().n;
					return live === 0 && feed === 0;
				}),
		);
	}
}

async function remove(room: string, msgId: string): Promise<void> {
	const response = await api(`/v1/rooms/${room}/messages/${msgId}`, { method: "DELETE", token: author });
	if (response.status !== 200) throw new Error(`delete: ${response.status} ${await response.text()}`);
}

describe("a retract of a cross-posted original", () => {
	it("leaves the text in no table of the origin, the targets, the index or the author directory", async ({ expect }) => {
		const [a, b, c] = [freshRoom("scrub-a"), freshRoom("scrub-b"), freshRoom("scrub-c")];
		const marker = `marker-${crypto.randomUUID()}`;
		const { msgId, sagaId } = await crossPost(a, [b, c], marker);
		await waitFor(async () => (await sagaState(a, sagaId)) === "succeeded");
		await quiet([a, b, c]);
		// The dump does see the text while the message is live: in the origin and in both copies.
		const before = await holding(marker, objectsOf(a, [b, c]));
		for (const room of [a, b, c]) expect(before.some((where) => where.startsWith(`room ${room}.events`))).toBe(true);

		await remove(a, msgId);
		await waitFor(async () => (await sagaState(a, sagaId)) === "compensated");
		await quiet([a, b, c]);
		expect(await holding(marker, objectsOf(a, [b, c]))).toEqual([]);
	});

	it("scrubs every version of an edited original, its copies' edits and the search index (v1.3)", async ({ expect }) => {
		const [a, b, c] = [freshRoom("scrub-a"), freshRoom("scrub-b"), freshRoom("scrub-c")];
		const marker = `marker${crypto.randomUUID().replaceAll("-", "")}`;
		const edited = `edited${crypto.randomUUID().replaceAll("-", "")}`;
		const { msgId, sagaId } = await crossPost(a, [b, c], marker);
		await waitFor(async () => (await sagaState(a, sagaId)) === "succeeded");
		const patched = await api(`/v1/rooms/${a}/messages/${msgId}`, {
			method: "PATCH",
			body: JSON.stringify({ id: crypto.randomUUID(), text: `now it is ${edited}` }),
			token: author,
		});
		expect(patched.status).toBe(201);
		const reader = await token({ sub: "scrub-reader" });
		await waitFor(async () => {
			for (const room of [b, c]) {
				const found = (await (await api(`/v1/rooms/${room}/search?q=${edited}`, { token: reader })).json()) as {
					results: unknown[];
				};
				if (found.results.length !== 1) return false;
			}
			return true;
		});
		await api(`/v1/rooms/${a}/search?q=${edited}`, { token: reader });
		await quiet([a, b, c]);
		// Both versions are stored while the message is live: the first in its history, the latest in the index.
		const before = await holding(marker, objectsOf(a, [b, c]));
		expect(before.some((where) => where.startsWith(`room ${a}.events`))).toBe(true);
		expect((await holding(edited, objectsOf(a, [b, c]))).some((where) => where.includes("message_search"))).toBe(true);

		await remove(a, msgId);
		await waitFor(async () => (await sagaState(a, sagaId)) === "compensated");
		await quiet([a, b, c]);
		expect(await holding(marker, objectsOf(a, [b, c]))).toEqual([]);
		expect(await holding(edited, objectsOf(a, [b, c]))).toEqual([]);
	});

	it("scrubs the text from tasks already archived", async ({ expect }) => {
		const [a, b, c] = [freshRoom("scrub-a"), freshRoom("scrub-b"), freshRoom("scrub-c")];
		const marker = `marker-${crypto.randomUUID()}`;
		const { msgId, sagaId } = await crossPost(a, [b, c], marker);
		await waitFor(async () => (await sagaState(a, sagaId)) === "succeeded");
		await quiet([a, b, c]);
		// Past retention: the next ticker run archives the finished deliveries.
		const origin = env.ROOM.getByName(a);
		await advanceClock(origin, TASK_RETENTION_MS + 1000);
		await runInDurableObject(origin, async (_i, state) => await state.storage.setAlarm(Date.now()));
		await runDurableObjectAlarm(origin);
		const states = await runInDurableObject(origin, (_i, state) =>
			state.storage.sql
				.exec<{ state: string }>("SELECT state FROM outbox WHERE saga_id = ?", sagaId)
				.toArray()
				.map((r) => r.state),
		);
		expect(states).toEqual(["archived", "archived"]);

		await remove(a, msgId);
		await waitFor(async () => (await sagaState(a, sagaId)) === "compensated");
		await quiet([a, b, c]);
		expect(await holding(marker, objectsOf(a, [b, c]))).toEqual([]);
	});

	it("scrubs the text when the cross-post had already been compensated", async ({ expect }) => {
		const [a, b, c] = [freshRoom("scrub-a"), freshRoom("scrub-b"), freshRoom("scrub-c")];
		await env.ROOM.getByName(c).updatePolicy({ readOnly: true });
		const marker = `marker-${crypto.randomUUID()}`;
		const { msgId, sagaId } = await crossPost(a, [b, c], marker);
		await waitFor(async () => (await sagaState(a, sagaId)) === "compensated");
		await quiet([a, b, c]);

		await remove(a, msgId);
		await quiet([a, b, c]);
		expect(await holding(marker, objectsOf(a, [b, c]))).toEqual([]);
	});

	it("scrubs the text when an operator moderation retracts the original", async ({ expect }) => {
		const [a, b, c] = [freshRoom("scrub-a"), freshRoom("scrub-b"), freshRoom("scrub-c")];
		const marker = `marker-${crypto.randomUUID()}`;
		const { msgId, sagaId } = await crossPost(a, [b, c], marker);
		await waitFor(async () => (await sagaState(a, sagaId)) === "succeeded");

		const response = await api("/v1/admin/moderations", {
			method: "POST",
			body: JSON.stringify({ selector: { room: a, msgIds: [msgId] }, action: "retract", reason: "leaked secret" }),
			token: adminToken,
		});
		expect(response.status).toBe(201);
		const { id } = (await response.json()) as { id: string };
		await waitFor(async () => {
			const view = (await (await api(`/v1/admin/moderations/${id}`, { token: adminToken })).json()) as ModerationView;
			return view.state === "done" && (await sagaState(a, sagaId)) === "compensated";
		});
		await quiet([a, b, c]);
		await quiet([env.MODERATION.getByName(id)]);
		expect(await holding(marker, objectsOf(a, [b, c], id))).toEqual([]);
	});
});
