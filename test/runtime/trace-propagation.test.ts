/**
 * W3C trace context end to end inside the runtime: the response of an API call names the
 * server's trace, the room RPC carries the Worker's span, every queue message carries its
 * attempt's span, the consumer hands its own span to the target room and back to the origin,
 * and alert webhooks are signed (Standard Webhooks) and carry the alert's trace.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, it, vi } from "vitest";
import worker from "../../src/index.ts";
import type { Identity } from "../../src/auth.ts";
import type { Span } from "../../src/ops/types.ts";
import type { TaskBatch, TaskMessage } from "../../src/saga/types.ts";
import { configFor } from "../../src/config.ts";
import { shardName, shardOf } from "../../src/ops/shard.ts";
import { parseTraceparent, spanIdFor } from "../../src/trace.ts";
import { verifyWebhook } from "../../src/webhook-signature.ts";
import { api, exhaust, freshRoom, holdQueue, join, replaceQueue, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };
const CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/** The secret vitest.config.ts gives the runtime (the Standard Webhooks spec's example). */
const WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const adminToken = await token({ sub: "ops", name: "Ops", role: "admin" });

/** A room's spans of a trace; `sagaIds` names the cross-posts that started there (their rows carry their spans). */
async function spansOf(room: string, traceId: string, sagaIds: string[] = []): Promise<Span[]> {
	return await env.ROOM.getByName(room).spans(traceId, sagaIds);
}

/** The trace as the console shows it (GET /v1/admin/traces/:id), once the index has it. */
async function traceView(traceId: string): Promise<Span[]> {
	return await vi.waitUntil(
		async () => {
			const response = await api(`/v1/admin/traces/${traceId}`, { token: adminToken });
			return response.status === 200 ? ((await response.json()) as { spans: Span[] }).spans : undefined;
		},
		{ timeout: 10_000, interval: 25 },
	);
}

describe("trace context over HTTP and room RPC", () => {
	it("answers with the server's traceparent, passes tracestate back, and the room's ingress span names the Worker's span", async ({
		expect,
	}) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await holdQueue(a);
		const response = await api(`/v1/rooms/${a}/messages`, {
			method: "POST",
			token: await token({ sub: "ann", name: "Ann" }),
			headers: { traceparent: CALLER, tracestate: "vendor=abc" },
			body: JSON.stringify({ id: "t1", text: "hi", crossPost: [b] }),
		});
		expect(response.status).toBe(201);
		const sent = (await response.json()) as { traceId: string; sagaId: string };
		const returned = parseTraceparent(response.headers.get("traceparent"));
		// The trace is the server's (never the caller's), and the response says which.
		expect(returned?.traceId).toBe(sent.traceId);
		expect(returned?.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
		expect(response.headers.get("tracestate")).toBe("vendor=abc");
		const ingress = (await spansOf(a, sent.traceId, [sent.sagaId])).find((s) => s.event === "message.received");
		expect(ingress?.detail).toContain(`via ${returned?.spanId}`);
		// The trace view shows it too (the origin keeps the commit's spans in its task rows).
		const shown = (await traceView(sent.traceId)).find((s) => s.event === "message.received");
		expect(shown?.detail).toContain(`via ${returned?.spanId}`);
		// Errors carry it too.
		const refused = await api(`/v1/rooms/${a}/messages`, { method: "POST", headers: { traceparent: CALLER }, body: "{}" });
		expect(refused.status).toBe(401);
		expect(parseTraceparent(refused.headers.get("traceparent"))).toBeDefined();
	});

	it("names the server's trace on a refused socket upgrade too (served before the app, src/upgrade.ts)", async ({ expect }) => {
		const room = freshRoom("ws");
		const upgrade = { Upgrade: "websocket", traceparent: CALLER, tracestate: "vendor=abc" };
		for (const [path, status] of [
			[`/v1/rooms/${room}/ws`, 401],
			[`/v1/rooms/${room}/ws?guest=ann&since=x`, 400],
		] as const) {
			const refused = await api(path, { headers: upgrade });
			expect([path, refused.status]).toEqual([path, status]);
			const returned = parseTraceparent(refused.headers.get("traceparent"));
			expect(returned).toBeDefined();
			expect(returned?.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
			expect(refused.headers.get("tracestate")).toBe("vendor=abc");
		}
	});
});

describe("trace context through the queue", () => {
	it("gives every queue message its attempt's traceparent, and the consumer's span reaches the target and the origin", async ({
		expect,
	}) => {
		const [origin, target] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(origin);
		const sent: TaskBatch[] = [];
		await replaceQueue(origin, { sendBatch: async (messages) => void sent.push(...messages.map((m) => m.body)) });
		const traceId = "e".repeat(32);
		const posted = await stub.post(ann, { id: "q1", text: "hello", crossPost: [target] }, traceId);
		if (!posted.ok || posted.value.sagaId === undefined) throw new Error("send failed");
		await runDurableObjectAlarm(stub);
		const task: TaskMessage | undefined = sent[0]?.tasks[0];
		if (task === undefined) throw new Error("nothing was dispatched");
		// The attempt's span is derived from the task and attempt: the same on every retry of the send.
		expect(task.traceparent).toBe(`00-${traceId}-${spanIdFor(`${task.taskId}#1`)}-01`);

		const batch = createMessageBatch<TaskBatch | TaskMessage>("parley-dev-outbox", [
			{ id: "m0", timestamp: Date.now(), attempts: 1, body: { tasks: [task] } },
		]);
		// A recording stand-in for the target room: what the RPC to it carried.
		const received: TaskMessage[][] = [];
		const ROOM = {
			getByName: (name: string) => {
				const real = env.ROOM.getByName(name);
				if (name !== target) return real;
				return {
					applyTasks: async (tasks: TaskMessage[], faults: boolean[]) => {
						received.push(tasks);
						return await real.applyTasks(tasks, faults);
					},
				};
			},
		};
		const ctx = createExecutionContext();
		await worker.queue(batch, { ...env, ROOM } as unknown as Env);
		expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m0"]);
		const hop = parseTraceparent(received[0]?.[0]?.traceparent);
		// Same trace, a span of the consumer's own (a child of the dispatch span).
		expect(hop?.traceId).toBe(traceId);
		expect(hop?.spanId).not.toBe(spanIdFor(`${task.taskId}#1`));
		const targetSpan = (await spansOf(target, traceId)).find((s) => s.event === "deliver.ok");
		expect(targetSpan?.detail).toContain(`via ${hop?.spanId}`);
		const delivered = (await spansOf(origin, traceId)).find((s) => s.event === "queue.delivered");
		expect(delivered?.detail).toContain(`via ${hop?.spanId}`);
		expect((await stub.taskStatus(task.taskId))?.state).toBe("succeeded");
		// The trace view shows both hops of the queued attempt.
		const shown = await traceView(traceId);
		expect(shown.find((s) => s.event === "deliver.ok" && s.room === target)?.detail).toContain(`via ${hop?.spanId}`);
		expect(shown.find((s) => s.event === "queue.delivered")?.detail).toContain(`via ${hop?.spanId}`);
	});

	it("gives a direct first attempt its attempt's traceparent too, and the trace view names it on both hops", async ({ expect }) => {
		const [origin, target] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(origin);
		// What the direct attempt carried to the target (TaskEngine.directAttempt, then the real call).
		const sent: TaskMessage[] = [];
		await runInDurableObject(stub, (instance) => {
			const real = instance.engine.directAttempt;
			instance.engine.directAttempt = async (tasks) => {
				sent.push(...tasks);
				return await real(tasks);
			};
		});
		const traceId = "d".repeat(32);
		const posted = await stub.post(ann, { id: "d1", text: "direct", crossPost: [target] }, traceId);
		if (!posted.ok || posted.value.sagaId === undefined) throw new Error("send failed");
		const { sagaId } = posted.value;
		await vi.waitUntil(async () => (await stub.saga(sagaId))?.state === "succeeded", { timeout: 10_000, interval: 20 });
		const task = sent[0];
		if (task === undefined) throw new Error("no direct attempt was made");
		// The same span a queued attempt 1 of this task would carry.
		expect(task.attempt).toBe(1);
		expect(task.traceparent).toBe(`00-${traceId}-${spanIdFor(`${task.taskId}#1`)}-01`);
		const span = parseTraceparent(task.traceparent)?.spanId;
		const shown = await traceView(traceId);
		expect(shown.find((s) => s.event === "queue.delivered")?.detail).toContain(`direct (no queue hop) · via ${span}`);
		expect(shown.find((s) => s.event === "deliver.ok" && s.room === target)?.detail).toContain(`via ${span}`);
	});
});

describe("alert webhooks", () => {
	it("are signed per Standard Webhooks over the exact body, with the alert's trace", async ({ expect }) => {
		await fetch("http://webhook.test/__reset", { method: "POST" });
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await holdQueue(a);
		const posted = await env.ROOM.getByName(a).post(ann, { id: "w1", text: "hi", crossPost: [b] }, "f".repeat(32));
		if (!posted.ok || posted.value.sagaId === undefined) throw new Error("send failed");
		const result = posted.value;
		const failed = await exhaust(a, `${result.sagaId}.d.${b}`);
		type Post = { body: { taskId?: string; traceId?: string }; raw: string; headers: Record<string, string> };
		const post = await vi.waitUntil(
			async () => ((await (await fetch("http://webhook.test/__log")).json()) as Post[]).find((p) => p.body.taskId === failed.taskId),
			{ timeout: 10_000, interval: 25 },
		);
		const now = Math.floor(Date.now() / 1000);
		expect(await verifyWebhook(WEBHOOK_SECRET, post.headers, post.raw, now)).toEqual({ ok: true });
		expect(post.headers["webhook-id"]).toBe(`${failed.taskId}#task_failed#1`);
		expect(parseTraceparent(post.headers.traceparent)?.traceId).toBe(failed.traceId);
		// Another secret does not verify it.
		expect(await verifyWebhook("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", post.headers, post.raw, now)).toEqual({
			ok: false,
			reason: "no_match",
		});
	});

	it("sends a signed sample alert from the console's test button", async ({ expect }) => {
		await fetch("http://webhook.test/__reset", { method: "POST" });
		const response = await api("/v1/admin/alerts/test", { method: "POST", token: adminToken, body: "{}" });
		expect(response.status).toBe(200);
		const answer = (await response.json()) as { webhookId: string; sent: boolean; signed: boolean; traceId: string };
		expect(answer).toMatchObject({ sent: true, signed: true });
		const log = (await (await fetch("http://webhook.test/__log")).json()) as Array<{
			raw: string;
			headers: Record<string, string>;
			body: { kind: string };
		}>;
		const sample = log.find((p) => p.headers["webhook-id"] === answer.webhookId);
		expect(sample?.body.kind).toBe("test");
		expect(await verifyWebhook(WEBHOOK_SECRET, sample?.headers ?? {}, sample?.raw ?? "", Math.floor(Date.now() / 1000))).toEqual({
			ok: true,
		});
		const user = await api("/v1/admin/alerts/test", { method: "POST", token: await token({ sub: "u" }), body: "{}" });
		expect(user.status).toBe(403);
	});
});

describe("metrics inside the runtime", () => {
	it("count stored messages, acks, attempts and sockets without writing per message", async ({ expect }) => {
		const { parseExposition, sumOf } = await import("../support/exposition-parser.ts");
		const scrape = async () => {
			const response = await api("/v1/admin/metrics", { token: adminToken });
			expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
			return parseExposition(await response.text(), "prometheus");
		};
		const before = await scrape();
		const room = freshRoom("m");
		const stub = env.ROOM.getByName(room);
		const state = async () =>
			await runInDurableObject(stub, async (_i, st) => ({
				alarm: await st.storage.getAlarm(),
				feed: st.storage.sql.exec("SELECT COUNT(*) AS n FROM ops_feed").one().n,
			}));
		// An author's first message registers the room in the author directory (one alarm, once).
		await stub.post(ann, { id: "p0", text: "plain" }, "c".repeat(32));
		await vi.waitUntil(async () => (await state()).alarm === null, { timeout: 10_000, interval: 25 });
		for (let i = 1; i < 3; i++) await stub.post(ann, { id: `p${i}`, text: "plain" }, "c".repeat(32));
		// No feed row and no alarm for plain messages: the counters are in memory.
		expect(await state()).toEqual({ alarm: null, feed: 0 });
		const after = await vi.waitUntil(
			async () => {
				const families = await scrape();
				return sumOf(families, "parley_messages_stored_total", { transport: "http" }) -
					sumOf(before, "parley_messages_stored_total", { transport: "http" }) >=
					3
					? families
					: undefined;
			},
			{ timeout: 10_000, interval: 100 },
		);
		expect(
			sumOf(after, "parley_acks_total", { transport: "http" }) - sumOf(before, "parley_acks_total", { transport: "http" }),
		).toBeGreaterThanOrEqual(3);
		const openMetrics = await api("/v1/admin/metrics", {
			token: adminToken,
			headers: { Accept: "application/openmetrics-text; version=1.0.0" },
		});
		expect(openMetrics.headers.get("content-type")).toContain("application/openmetrics-text");
		expect(() => parseExposition("", "openmetrics")).toThrow();
		// Decoded by hand: workerd warns on .text() for a content type it does not know as text.
		parseExposition(new TextDecoder().decode(await openMetrics.arrayBuffer()), "openmetrics");
		const scoped = await api("/v1/admin/metrics", { token: await token({ sub: "s", role: "admin", rooms: [room] }) });
		expect(scoped.status).toBe(403);
	});

	it("report a room's open sockets as they come through the socket route and go, by either side's close", async ({ expect }) => {
		const room = freshRoom("ms");
		const shard = env.OPS_INDEX.getByName(shardName(shardOf(room, configFor(env).opsIndexShards)));
		// What the room last reported to its shard (no row once it has none open).
		const reported = async () =>
			await runInDurableObject(
				shard,
				(_i, st) =>
					st.storage.sql.exec<{ sockets: number }>("SELECT sockets FROM metric_sockets WHERE source = ?", room).toArray()[0]
						?.sockets ?? 0,
			);
		const until = async (sockets: number) =>
			await vi.waitUntil(async () => (await reported()) === sockets, { timeout: 10_000, interval: 50 });
		const first = await join(room, "guest=ann");
		const second = await join(room, "guest=bob");
		await until(2);
		second.close();
		await until(1);
		// A socket the server closes (a frame over MAX_FRAME_BYTES) is gone from the count too.
		first.send("x".repeat(configFor(env).maxFrameBytes + 1));
		await first.waitClosed();
		await until(0);
		expect(await reported()).toBe(0);
	});
});
