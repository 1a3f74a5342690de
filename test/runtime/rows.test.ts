/**
 * What a cross-post costs in rows written, in every object it touches (origin, targets, every
 * ops index shard, every author directory shard), alarms included: counted by each object's
 * storage meter (the sum of `rowsWritten` over its cursors, objects/storage-meter.ts), from the send
 * until the saga is done and everything it fed the index has arrived, rows written and deleted
 * on the way included.
 *
 * The metrics counters (objects/meter.ts) are not written per cross-post: each object sends
 * what it counted to its ops-index shard at most once per METRICS_FLUSH_MS, one row per
 * counter series moved and one for the minute's history, however many messages the interval
 * held. So the measurement holds the origin's flush back and counts it on its own: the
 * cross-post's rows against 4 + 4N, the flush that carries its counts against a bound that
 * does not grow with N.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, it, vi } from "vitest";
import type { Room } from "../../objects/room.ts";
import type { MeterReading } from "../../objects/storage-meter.ts";
import type { Identity } from "../../src/auth.ts";
import { shardName } from "../../src/ops/shard.ts";
import { api, freshRoom, join, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };
const SHARDS = 4;

/** Every object a cross-post from `origin` to `targets` may write to, read at once. */
async function readings(origin: string, targets: readonly string[]): Promise<Map<string, MeterReading>> {
	const all = new Map<string, MeterReading>();
	for (const room of [origin, ...targets]) all.set(`room:${room}`, await env.ROOM.getByName(room).meterReading());
	for (let i = 0; i < SHARDS; i++) {
		all.set(`index:${i}`, await env.OPS_INDEX.getByName(shardName(i)).meterReading());
		all.set(`authors:${i}`, await env.AUTHORS.getByName(shardName(i)).meterReading());
	}
	return all;
}

/** Rows per object between two reads; an object that restarted in between fails the test. */
function delta(before: Map<string, MeterReading>, after: Map<string, MeterReading>): Record<string, number> {
	const out: Record<string, number> = {};
	for (const [key, end] of after) {
		const start = before.get(key);
		if (start === undefined || start.incarnation !== end.incarnation) throw new Error(`${key} restarted during the measurement`);
		const rows = end.rowsWritten - start.rowsWritten + end.alarmWrites - start.alarmWrites;
		if (rows !== 0) out[key.startsWith("room:") ? key.replace(/-[0-9a-f]{8}/, "") : key] = rows;
	}
	return out;
}

/** Waits until the room has nothing left to do: no live task, nothing to ship, no alarm due. */
async function quiet(room: string): Promise<void> {
	await vi.waitUntil(
		async () =>
			await runInDurableObject(env.ROOM.getByName(room), async (instance, state) => {
				const alarm = await state.storage.getAlarm();
				return !instance.engine.busy() && (alarm === null || alarm > Date.now() + 1000);
			}),
		{ timeout: 10_000, interval: 20 },
	);
}

/**
 * Holds the room's metrics flushes (its timer finds nothing to do) after sending what is
 * counted so far; `release` puts the flush back and sends what was held, at once.
 */
async function holdMetrics(room: string): Promise<{ release: () => Promise<void> }> {
	const stub = env.ROOM.getByName(room);
	await runInDurableObject(stub, async (instance) => {
		await instance.meter.flush();
		instance.meter.flush = async () => undefined;
	});
	return {
		release: async () => {
			await runInDurableObject(stub, async (instance) => {
				Reflect.deleteProperty(instance.meter, "flush");
				await instance.meter.flush();
			});
		},
	};
}

function sum(perObject: Record<string, number>): number {
	return Object.values(perObject).reduce((n, r) => n + r, 0);
}

interface Measured {
	total: number;
	perObject: Record<string, number>;
	/** Rows the flush of the cross-post's counters wrote (its shard's metric tables). */
	flush: number;
	flushPerObject: Record<string, number>;
}

async function measure(targets: number): Promise<Measured> {
	const origin = freshRoom("o");
	const rooms = Array.from({ length: targets }, (_, i) => `${origin}-t${i}`);
	const stub = env.ROOM.getByName(origin);
	// The author's first message here registers the room with the author directory; steady state is what counts.
	const warm = await stub.post(ann, { id: "warm", text: "first" }, "d".repeat(32));
	if (!warm.ok) throw new Error("warm-up send failed");
	await quiet(origin);
	// What the warm-up counted is sent now, before the measurement; the cross-post's counts wait.
	const metrics = await holdMetrics(origin);
	const before = await readings(origin, rooms);
	const posted = await stub.post(ann, { id: "x", text: "to all", crossPost: rooms }, "e".repeat(32));
	if (!posted.ok || posted.value.sagaId === undefined) throw new Error("cross-post failed");
	const sagaId = posted.value.sagaId;
	await vi.waitUntil(async () => (await stub.saga(sagaId))?.state === "succeeded", { timeout: 10_000, interval: 20 });
	await quiet(origin);
	const done = await readings(origin, rooms);
	const perObject = delta(before, done);
	await metrics.release();
	const flushPerObject = delta(done, await readings(origin, rooms));
	return { total: sum(perObject), perObject, flush: sum(flushPerObject), flushPerObject };
}

/**
 * A flush carrying one cross-post's counts: the series it moved (acks, messages stored, task
 * attempts of kind deliver: 3 whatever N), each a row, plus its key's entry the first time
 * the shard sees the series, and the minute's history row.
 */
const FLUSH_ROWS_MAX = 3 * 2 + 1;

describe("rows written per cross-post", () => {
	for (const n of [1, 3, 10]) {
		it(`stays within 4 + 4N for N = ${n}, its metrics flush within a bound that does not grow with N`, async ({ expect }) => {
			const { total, perObject, flush, flushPerObject } = await measure(n);
			expect(total, `rows by object: ${JSON.stringify(perObject)}`).toBeLessThanOrEqual(4 + 4 * n);
			expect(flush).toBeGreaterThan(0);
			expect(flush, `flush rows by object: ${JSON.stringify(flushPerObject)}`).toBeLessThanOrEqual(FLUSH_ROWS_MAX);
		});
	}
});

describe("GET /v1/admin/meter", () => {
	it("sums nothing itself: it lists each named room's and every shard's meter, for global admins only", async ({ expect }) => {
		const room = freshRoom("m");
		await env.ROOM.getByName(room).post(ann, { id: "1", text: "hi" }, "f".repeat(32));
		const global = await api(`/v1/admin/meter?rooms=${room}`, { token: await token({ sub: "ops", role: "admin" }) });
		expect(global.status).toBe(200);
		const body = (await global.json()) as { objects: Record<string, MeterReading> };
		expect(Object.keys(body.objects).sort()).toEqual(
			[...Array.from({ length: SHARDS }, (_, i) => [`authors:ops-${i}`, `index:ops-${i}`]).flat(), `room:${room}`].sort(),
		);
		expect(body.objects[`room:${room}`]?.rowsWritten).toBeGreaterThanOrEqual(2);
		const scoped = await api(`/v1/admin/meter?rooms=${room}`, { token: await token({ sub: "ops", role: "admin", rooms: [room] }) });
		expect(scoped.status).toBe(403);
		expect((await api("/v1/admin/meter?rooms=NO!", { token: await token({ sub: "ops", role: "admin" }) })).status).toBe(400);
		expect((await api("/v1/admin/meter", { token: await token({ sub: "u" }) })).status).toBe(403);
	});

	it("v1.4: lists the named users' inboxes too, with the RPCs each made and served", async ({ expect }) => {
		const user = `meter-${crypto.randomUUID().slice(0, 8)}`;
		const admin = await token({ sub: "ops", role: "admin" });
		expect((await api("/v1/me/inbox", { token: await token({ sub: user, name: "Meter" }) })).status).toBe(200);
		const response = await api(`/v1/admin/meter?inboxes=${user}`, { token: admin });
		expect(response.status).toBe(200);
		const body = (await response.json()) as { objects: Record<string, MeterReading> };
		expect(Object.keys(body.objects).filter((key) => !key.startsWith("index:") && !key.startsWith("authors:"))).toEqual([
			`inbox:${user}`,
		]);
		const reading = body.objects[`inbox:${user}`];
		// The read wrote the user's name; it made one read of the author directory and served one page.
		expect(reading?.rowsWritten).toBeGreaterThanOrEqual(1);
		expect(reading?.calls).toEqual({ "in:page": 1, "out:roomsSince": 1 });
		expect((await api(`/v1/admin/meter?inboxes=${"x".repeat(65)}`, { token: admin })).status).toBe(400);
		expect((await api("/v1/admin/meter?inboxes=a,%07b", { token: admin })).status).toBe(400);
		const many = Array.from({ length: 65 }, (_, i) => `u${i}`).join(",");
		expect((await api(`/v1/admin/meter?inboxes=${many}`, { token: admin })).status).toBe(400);
		expect((await api(`/v1/admin/meter?inboxes=${user}`, { token: await token({ sub: user }) })).status).toBe(403);
	});
});

/** Rows the room wrote (alarms included) while `work` ran, and whether it left an alarm set. */
async function roomRows(room: string, work: () => Promise<void>): Promise<{ rows: number; alarm: boolean }> {
	const stub = env.ROOM.getByName(room);
	const before = await stub.meterReading();
	await work();
	const after = await stub.meterReading();
	if (before.incarnation !== after.incarnation) throw new Error(`${room} restarted during the measurement`);
	const alarm = await runInDurableObject(stub, async (_instance, state) => (await state.storage.getAlarm()) !== null);
	return { rows: after.rowsWritten - before.rowsWritten + after.alarmWrites - before.alarmWrites, alarm };
}

describe("rows written per v1.3 chat write", () => {
	/** A room where ann has posted once (her first post registers her) and search is caught up. */
	async function warmRoom(): Promise<{ room: string; first: string }> {
		const room = freshRoom("c");
		const stub = env.ROOM.getByName(room);
		const warm = await stub.post(ann, { id: "warm", text: "first" }, "a".repeat(32));
		if (!warm.ok) throw new Error("warm-up send failed");
		await quiet(room);
		await stub.searchMessages({ q: "first", limit: 1 });
		return { room, first: warm.value.msgId };
	}

	it("a plain message stays at 2 rows and no alarm, with mentions and search on", async ({ expect }) => {
		const { room } = await warmRoom();
		const stub = env.ROOM.getByName(room);
		const plain = await roomRows(room, async () => {
			await stub.post(ann, { id: "p1", text: "a plain message" }, "b".repeat(32));
		});
		const mentioning = await roomRows(room, async () => {
			await stub.post(ann, { id: "p2", text: "@Ann a message that mentions" }, "c".repeat(32));
		});
		expect(plain).toEqual({ rows: 2, alarm: false });
		expect(mentioning).toEqual({ rows: 2, alarm: false });
	});

	it("a reply costs what a plain message costs", async ({ expect }) => {
		const { room, first } = await warmRoom();
		const reply = await roomRows(room, async () => {
			await env.ROOM.getByName(room).post(ann, { id: "r1", text: "a reply", replyTo: first }, "d".repeat(32));
		});
		expect(reply).toEqual({ rows: 2, alarm: false });
	});

	it("an edit writes 3 rows (its event, its dedup entry, the message), 5 once search has indexed the message", async ({ expect }) => {
		const { room, first } = await warmRoom();
		const stub = env.ROOM.getByName(room);
		const sent = await stub.post(ann, { id: "m1", text: "not indexed yet" }, "e".repeat(32));
		if (!sent.ok) throw new Error("send failed");
		const unindexed = await roomRows(room, async () => {
			await stub.edit(ann, { id: "e1", msgId: sent.value.msgId, text: "edited before any search" }, "f".repeat(32));
		});
		const indexed = await roomRows(room, async () => {
			await stub.edit(ann, { id: "e2", msgId: first, text: "edited once indexed" }, "1".repeat(32));
		});
		const repeat = await roomRows(room, async () => {
			await stub.edit(ann, { id: "e2", msgId: first, text: "edited once indexed" }, "2".repeat(32));
		});
		expect(unindexed).toEqual({ rows: 3, alarm: false });
		expect(indexed).toEqual({ rows: 5, alarm: false });
		expect(repeat).toEqual({ rows: 0, alarm: false });
	});

	it("a retract costs 3 rows before search indexed the message, and 5 after (the entry deleted, the index rewritten)", async ({
		expect,
	}) => {
		const { room } = await warmRoom();
		const stub = env.ROOM.getByName(room);
		const sent: Array<{ msgId: string; by: Identity }> = [];
		for (let i = 0; i < 40; i++) {
			// A user's burst is 20 messages: two writers.
			const by = { ...ann, id: `w${Math.floor(i / 20)}` };
			const posted = await stub.post(by, { id: `r${i}`, text: `message number ${i}` }, "4".repeat(32));
			if (posted.ok) sent.push({ msgId: posted.value.msgId, by });
		}
		await quiet(room);
		const retract = async (n: number) => {
			const target = sent[n];
			if (target === undefined || !(await stub.remove(target.by, target.msgId, "5".repeat(32))).ok) throw new Error("retract failed");
		};
		const unindexed = await roomRows(room, () => retract(0));
		await stub.searchMessages({ q: "message", limit: 1 });
		const indexed = await roomRows(room, () => retract(1));
		// A retract: its event, its index entry, the message scrubbed (3). Once indexed: the entry
		// deleted, and the optimize that drops its terms, which the cursor counts as one row
		// (FTS5 rewrites its segments underneath: see docs/cost.md).
		expect(unindexed).toEqual({ rows: 3, alarm: false });
		expect(indexed).toEqual({ rows: 5, alarm: false });
	});

	it("search indexes lazily: one row per live message it catches up on, plus its watermark per chunk", async ({ expect }) => {
		const { room } = await warmRoom();
		const stub = env.ROOM.getByName(room);
		for (let i = 0; i < 10; i++) await stub.post(ann, { id: `s${i}`, text: `message ${i}` }, "3".repeat(32));
		const catchUp = await roomRows(room, async () => {
			await stub.searchMessages({ q: "message", limit: 5 });
		});
		const again = await roomRows(room, async () => {
			await stub.searchMessages({ q: "message", limit: 5 });
		});
		expect(catchUp).toEqual({ rows: 10 + 1, alarm: false });
		expect(again).toEqual({ rows: 0, alarm: false });
	});
});

/**
 * An edit of a cross-posted original: the edit at the origin (3 rows, as any edit) and one task
 * per copy, attempted directly once its copy is there (an insert, and its completion: 2N), the
 * copy's edit in each target (3N), and the cross-post's record in the ops index with the edit
 * tasks beside it (1 + 4N).
 */
describe("rows written per edit of a cross-posted original", () => {
	for (const n of [1, 3]) {
		it(`stays within 5 + 9N for N = ${n} (origin, copies, index), alarms included`, async ({ expect }) => {
			const origin = freshRoom("eo");
			const rooms = Array.from({ length: n }, (_, i) => `${origin}-t${i}`);
			const stub = env.ROOM.getByName(origin);
			await stub.post(ann, { id: "warm", text: "first" }, "d".repeat(32));
			const posted = await stub.post(ann, { id: "x", text: "to all", crossPost: rooms }, "e".repeat(32));
			if (!posted.ok || posted.value.sagaId === undefined) throw new Error("cross-post failed");
			const sagaId = posted.value.sagaId;
			await vi.waitUntil(async () => (await stub.saga(sagaId))?.state === "succeeded", { timeout: 10_000, interval: 20 });
			await quiet(origin);
			// Every room's metrics flush is held: what the edit itself writes is measured.
			const held = await Promise.all([origin, ...rooms].map((room) => holdMetrics(room)));
			// Rooms of earlier tests may still be flushing their last counts into a shard: wait them out.
			let before = await readings(origin, rooms);
			for (;;) {
				await new Promise((resolve) => setTimeout(resolve, 300));
				const again = await readings(origin, rooms);
				if (Object.keys(delta(before, again)).length === 0) break;
				before = again;
			}
			const edited = await stub.edit(ann, { id: "e1", msgId: posted.value.msgId, text: "to all, edited" }, "f".repeat(32));
			if (!edited.ok) throw new Error("edit failed");
			await vi.waitUntil(async () => (await stub.saga(sagaId))?.steps.every((step) => step.state === "succeeded") === true, {
				timeout: 10_000,
				interval: 20,
			});
			await quiet(origin);
			const perObject = delta(before, await readings(origin, rooms));
			for (const metrics of held) await metrics.release();
			expect(sum(perObject), `rows by object: ${JSON.stringify(perObject)}`).toBeLessThanOrEqual(5 + 9 * n);
		});
	}
});

/**
 * v1.3: rows one room writes per chat action, from its own storage meter. Each runs after a
 * warm-up post (an author's first post also registers them in the author directory) once the
 * room is quiet, so what is measured is the steady state.
 */
describe("rows written per v1.3 chat action", () => {
	const trace = "a".repeat(32);

	async function warmRoom(): Promise<{ room: string; stub: DurableObjectStub<Room>; msgId: string }> {
		const room = freshRoom("c");
		const stub = env.ROOM.getByName(room);
		const warm = await stub.post(ann, { id: "warm", text: "first" }, trace);
		if (!warm.ok) throw new Error("warm-up send failed");
		await quiet(room);
		return { room, stub, msgId: warm.value.msgId };
	}

	/** Rows the room writes while `work` runs (the room must not restart meanwhile). */
	async function rowsOf(stub: DurableObjectStub<Room>, work: () => Promise<unknown>): Promise<number> {
		const before = await stub.meterReading();
		await work();
		const after = await stub.meterReading();
		if (before.incarnation !== after.incarnation) throw new Error("the room restarted during the measurement");
		return after.rowsWritten - before.rowsWritten + after.alarmWrites - before.alarmWrites;
	}

	async function alarmOf(room: string): Promise<number | null> {
		return await runInDurableObject(env.ROOM.getByName(room), async (_instance, state) => await state.storage.getAlarm());
	}

	it("a plain message still costs at most 2 rows and sets no alarm", async ({ expect }) => {
		const { room, stub } = await warmRoom();
		const rows = await rowsOf(stub, () => stub.post(ann, { id: "plain", text: "hello" }, trace));
		expect(rows).toBeGreaterThan(0);
		expect(rows).toBeLessThanOrEqual(2);
		expect(await alarmOf(room)).toBeNull();
	});

	it("a reaction costs 3 rows (its event, the event's dedup entry, the reaction row) and a duplicate none, no alarm", async ({
		expect,
	}) => {
		const { room, stub, msgId } = await warmRoom();
		expect(await rowsOf(stub, () => stub.react(ann, { id: "r1", msgId, emoji: "👍" }, trace))).toBe(3);
		expect(await rowsOf(stub, () => stub.react(ann, { id: "r2", msgId, emoji: "👍" }, trace))).toBe(0);
		expect(await rowsOf(stub, () => stub.react(ann, { id: "r1", msgId, emoji: "👍" }, trace))).toBe(0);
		expect(await rowsOf(stub, () => stub.react(ann, { id: "r3", msgId, emoji: "👍", remove: true }, trace))).toBe(3);
		expect(await rowsOf(stub, () => stub.react(ann, { id: "r4", msgId, emoji: "👍", remove: true }, trace))).toBe(0);
		expect(await alarmOf(room)).toBeNull();
	});

	it("a read marker costs 1 row when it moves and none when it does not, however many messages it covers", async ({ expect }) => {
		const { room, stub } = await warmRoom();
		for (let i = 0; i < 10; i++) await stub.post({ ...ann, id: `u${i}` }, { id: `m${i}`, text: "x" }, trace);
		await quiet(room);
		expect(await rowsOf(stub, () => stub.markRead(ann, 11))).toBe(1);
		expect(await rowsOf(stub, () => stub.markRead(ann, 11))).toBe(0);
		expect(await rowsOf(stub, () => stub.markRead(ann, 3))).toBe(0);
		await stub.post(ann, { id: "more", text: "y" }, trace);
		expect(await rowsOf(stub, () => stub.markRead(ann, 12))).toBe(1);
		expect(await alarmOf(room)).toBeNull();
	});

	it("a typing frame costs no row", async ({ expect }) => {
		const { room, stub } = await warmRoom();
		const alice = await join(room, "guest=alice");
		const bob = await join(room, "guest=bob");
		const rows = await rowsOf(stub, async () => {
			alice.send({ type: "typing" });
			await bob.frame("typing");
		});
		expect(rows).toBe(0);
	});
});
