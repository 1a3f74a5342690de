import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, it, vi } from "vitest";
import type { Identity } from "../../src/auth.ts";
import type { MessageEvent, RoomEvent } from "../../src/protocol.ts";
import type { SagaView, TaskMessage } from "../../src/saga/types.ts";
import { applyTask, freshRoom, join } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };
const trace = "a".repeat(32);

async function crossPost(origin: string, targets: string[], id = crypto.randomUUID()) {
	const posted = await env.ROOM.getByName(origin).post(ann, { id, text: `hello from ${origin}`, crossPost: targets }, trace);
	if (!posted.ok) throw new Error(`send failed: ${JSON.stringify(posted)}`);
	const result = posted.value;
	if (result.sagaId === undefined) throw new Error(`send failed: ${JSON.stringify(result)}`);
	return result;
}

async function saga(origin: string, sagaId: string): Promise<SagaView> {
	const view = await env.ROOM.getByName(origin).saga(sagaId);
	if (view === undefined) throw new Error(`no saga ${sagaId}`);
	return view;
}

async function settled(origin: string, sagaId: string, timeout = 10_000): Promise<SagaView> {
	return await vi.waitUntil(
		async () => {
			const view = await saga(origin, sagaId);
			return ["succeeded", "compensated", "failed"].includes(view.state) ? view : undefined;
		},
		{ timeout, interval: 20 },
	);
}

async function events(room: string): Promise<RoomEvent[]> {
	return (await env.ROOM.getByName(room).events({ after: 0, limit: 500 })).events;
}

/** Copies in a room that are still visible (not retracted). */
async function liveCopies(room: string, sagaId: string): Promise<MessageEvent[]> {
	return (await events(room)).filter(
		(e): e is MessageEvent => e.type === "message" && e.from?.sagaId === sagaId && e.retractedBy === undefined,
	);
}

describe("cross-posting", () => {
	it("commits the message, saga and tasks together and delivers one copy per target", async ({ expect }) => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		const result = await crossPost(a, [b, c]);
		const done = await settled(a, result.sagaId ?? "");
		expect(done.state).toBe("succeeded");
		expect(done.steps.map((s) => [s.room, s.kind, s.state])).toEqual([
			[b, "deliver", "succeeded"],
			[c, "deliver", "succeeded"],
		]);
		for (const room of [b, c]) {
			const copies = await liveCopies(room, result.sagaId ?? "");
			expect(copies).toHaveLength(1);
			expect(copies[0]?.from).toEqual({ room: a, msgId: result.msgId, sagaId: result.sagaId });
			expect(copies[0]?.author).toEqual({ id: "ann", name: "Ann" });
		}
		// The origin room keeps its message.
		expect((await events(a)).map((e) => e.type)).toEqual(["message"]);
	});

	it("tells the author's sockets in the origin room how the saga ended", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const socket = await join(a, "guest=ann");
		socket.send({ type: "send", id: "x1", text: "hi all", crossPost: [b] });
		const ack = await socket.frame("ack");
		expect(ack.sagaId).toMatch(new RegExp(`^${a}~`));
		const frame = await socket.frame("saga");
		expect(frame).toEqual({ type: "saga", sagaId: ack.sagaId, state: "succeeded", steps: [{ room: b, state: "succeeded" }] });
	});

	it("refuses a cross-post to a room the sender may not access, creating nothing", async ({ expect }) => {
		const a = freshRoom("a");
		const limited: Identity = { ...ann, rooms: [a] };
		const result = await env.ROOM.getByName(a).post(limited, { id: "1", text: "x", crossPost: ["secret"] }, trace);
		expect(result).toMatchObject({ ok: false, error: { code: "forbidden" } });
		expect(await events(a)).toEqual([]);
	});

	it("acks a repeated cross-post with the original saga and starts no second one", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const first = await crossPost(a, [b], "same");
		const again = await crossPost(a, [b], "same");
		expect(again).toEqual({ ...first, duplicate: true });
		await settled(a, first.sagaId ?? "");
		expect(await liveCopies(b, first.sagaId ?? "")).toHaveLength(1);
	});
});

describe("compensation", () => {
	it("ends compensated with no live copy anywhere when one target is read-only", async ({ expect }) => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		await env.ROOM.getByName(c).updatePolicy({ readOnly: true });
		const result = await crossPost(a, [b, c]);
		const done = await settled(a, result.sagaId ?? "");
		expect(done.state).toBe("compensated");
		const deliverC = done.steps.find((s) => s.room === c && s.kind === "deliver");
		expect(deliverC).toMatchObject({ state: "failed", lastError: expect.stringContaining("read_only") });
		for (const room of [b, c]) expect(await liveCopies(room, result.sagaId ?? "")).toEqual([]);
		// Where a copy was made, it was followed by a compensated retract.
		const retracts = (await events(b)).filter((e) => e.type === "retract");
		for (const r of retracts) expect(r).toMatchObject({ reason: "compensated" });
		expect((await events(a)).filter((e) => e.type === "message")).toHaveLength(1);
	});

	it("refuses copies of a banned author and compensates", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await env.ROOM.getByName(b).updatePolicy({ banned: ["ann"] });
		const result = await crossPost(a, [b]);
		const done = await settled(a, result.sagaId ?? "");
		expect(done.state).toBe("compensated");
		expect(done.steps[0]).toMatchObject({ kind: "deliver", state: "failed", lastError: expect.stringContaining("banned") });
		expect(await events(b)).toEqual([]);
	});

	it("refuses a guest's copies where the target room bans guests, and compensates", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await env.ROOM.getByName(b).updatePolicy({ banGuests: true });
		const guest: Identity = { id: "guest:ann", name: "ann", admin: false, rooms: null, guest: true };
		const posted = await env.ROOM.getByName(a).post(guest, { id: "g", text: "from a guest", crossPost: [b] }, trace);
		if (!posted.ok) throw new Error(`send failed: ${JSON.stringify(posted)}`);
		const result = posted.value;
		if (result.sagaId === undefined) throw new Error(`send failed: ${JSON.stringify(result)}`);
		const done = await settled(a, result.sagaId);
		expect(done.state).toBe("compensated");
		expect(done.steps[0]).toMatchObject({ kind: "deliver", state: "failed", lastError: expect.stringContaining("banned") });
		expect(await events(b)).toEqual([]);
	});

	it("retracts every copy with reason deleted when the original is deleted", async ({ expect }) => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		const result = await crossPost(a, [b, c]);
		await settled(a, result.sagaId ?? "");
		const deleted = await env.ROOM.getByName(a).remove(ann, result.msgId, trace);
		expect(deleted).toMatchObject({ ok: true, value: { seq: 2 } });
		const done = await vi.waitUntil(async () => ((await saga(a, result.sagaId ?? "")).state === "compensated" ? true : undefined), {
			timeout: 10_000,
		});
		expect(done).toBe(true);
		for (const room of [b, c]) {
			expect(await liveCopies(room, result.sagaId ?? "")).toEqual([]);
			expect((await events(room)).at(-1)).toMatchObject({ type: "retract", reason: "deleted" });
		}
	});

	it("leaves the saga alone when a copy is deleted in its own room", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const result = await crossPost(a, [b]);
		await settled(a, result.sagaId ?? "");
		const [copy] = await liveCopies(b, result.sagaId ?? "");
		await env.ROOM.getByName(b).remove(ann, copy?.msgId ?? "", trace);
		expect((await saga(a, result.sagaId ?? "")).state).toBe("succeeded");
	});
});

function taskFor(origin: string, target: string, sagaId: string, kind: "deliver" | "retract"): TaskMessage {
	return {
		taskId: `${sagaId}.${kind === "deliver" ? "d" : "r"}.${target}`,
		sagaId,
		kind,
		origin: { kind: "room", id: origin },
		targetRoom: target,
		dedupKey: `${sagaId}:${kind}`,
		traceId: trace,
		attempt: 1,
		payload: { msgId: "1-0123456789", author: { id: "ann", name: "Ann" }, text: "copy me", ts: 1, reason: "compensated" },
	};
}

describe("the barrier at a target room", () => {
	it("makes one copy from duplicate and concurrent deliveries", async ({ expect }) => {
		const target = env.ROOM.getByName(freshRoom("t"));
		const task = taskFor("origin", "t", "origin~dup", "deliver");
		const outcomes = await Promise.all(Array.from({ length: 6 }, () => applyTask(target, task, false)));
		const first = outcomes[0];
		for (const outcome of outcomes)
			expect(outcome).toMatchObject({ status: "ok", seq: 1, msgId: first?.status === "ok" ? first.msgId : "" });
		const page = await target.events({ after: 0, limit: 10 });
		expect(page.events).toHaveLength(1);
	});

	it("records a tombstone for a retract that comes before its delivery, and refuses the late delivery", async ({ expect }) => {
		const room = freshRoom("t");
		const target = env.ROOM.getByName(room);
		const retract = await applyTask(target, taskFor("origin", room, "origin~late", "retract"), false);
		expect(retract).toMatchObject({ status: "ok", seq: null, detail: expect.stringContaining("tombstone") });
		const late = await applyTask(target, taskFor("origin", room, "origin~late", "deliver"), false);
		expect(late).toMatchObject({ status: "ok", seq: null, detail: expect.stringContaining("after its compensation") });
		expect((await target.events({ after: 0, limit: 10 })).events).toEqual([]);
		// Repeats answer the first result and change nothing.
		expect(await applyTask(target, taskFor("origin", room, "origin~late", "retract"), false)).toMatchObject({
			status: "ok",
			seq: null,
			msgId: null,
		});
	});

	it("retracts a delivered copy exactly once", async ({ expect }) => {
		const room = freshRoom("t");
		const target = env.ROOM.getByName(room);
		await applyTask(target, taskFor("origin", room, "origin~r", "deliver"), false);
		const retracts = await Promise.all([1, 2, 3].map(() => applyTask(target, taskFor("origin", room, "origin~r", "retract"), false)));
		for (const r of retracts) expect(r).toMatchObject({ status: "ok", seq: 2 });
		const page = await target.events({ after: 0, limit: 10 });
		expect(page.events.map((e) => e.type)).toEqual(["message", "retract"]);
	});

	it("applies a batch in order and defers everything after the first task that does not go through", async ({ expect }) => {
		const room = freshRoom("t");
		const target = env.ROOM.getByName(room);
		const tasks = ["origin~b1", "origin~b2", "origin~b3"].map((sagaId) => taskFor("origin", room, sagaId, "deliver"));
		const outcomes = await target.applyTasks(tasks, [false, true, false]);
		expect(outcomes.map((o) => o.status)).toEqual(["ok", "transient", "deferred"]);
		const page = await target.events({ after: 0, limit: 10 });
		expect(page.events.map((e) => (e.type === "message" ? e.from?.sagaId : e.type))).toEqual(["origin~b1"]);
		const again = await target.applyTasks(tasks.slice(1), [false, false]);
		expect(again.map((o) => o.status)).toEqual(["ok", "ok"]);
		const after = await target.events({ after: 0, limit: 10 });
		expect(after.events.map((e) => (e.type === "message" ? e.from?.sagaId : e.type))).toEqual(["origin~b1", "origin~b2", "origin~b3"]);
	});

	it("answers an injected fault as a transient refusal without an effect", async ({ expect }) => {
		const room = freshRoom("t");
		const target = env.ROOM.getByName(room);
		expect(await applyTask(target, taskFor("origin", room, "origin~f", "deliver"), true)).toMatchObject({
			status: "transient",
			code: "fault",
		});
		expect((await target.events({ after: 0, limit: 10 })).events).toEqual([]);
	});
});

describe("the outbox ticker", () => {
	it("sets an alarm while tasks are live and none once they are done", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(a);
		const result = await crossPost(a, [b]);
		// Right after the commit: one live task and an alarm to drive it.
		const early = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
		await settled(a, result.sagaId ?? "");
		// Once the saga is done and its index updates are shipped, the room goes idle.
		const late = await vi.waitUntil(
			async () => ((await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())) === null ? "idle" : undefined),
			{ timeout: 5000, interval: 20 },
		);
		expect([typeof early, late]).toEqual(["number", "idle"]);
	});

	it("leaves neither message nor tasks when the transaction throws", async ({ expect }) => {
		const a = freshRoom("a");
		const stub = env.ROOM.getByName(a);
		const counts = await runInDurableObject(stub, (_instance, state) => {
			const sql = state.storage.sql;
			try {
				state.storage.transactionSync(() => {
					sql.exec("INSERT INTO events (seq, kind, msg_id, ts, trace_id) VALUES (1, 'message', 'm', 1, 't')");
					sql.exec(
						"INSERT INTO sagas (saga_id, msg_id, author_id, author_name, trace_id, state, created_at, updated_at) VALUES ('s', 'm', 'a', 'a', 't', 'running', 1, 1)",
					);
					throw new Error("crash mid-commit");
				});
			} catch {
				// expected
			}
			return [sql.exec("SELECT COUNT(*) AS n FROM events").one().n, sql.exec("SELECT COUNT(*) AS n FROM sagas").one().n];
		});
		expect(counts).toEqual([0, 0]);
	});
});
