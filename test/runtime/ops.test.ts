import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, it, vi } from "vitest";
import type { Identity } from "../../src/auth.ts";
import type { AuditEntry, AlertView, Span } from "../../src/ops/types.ts";
import type { SagaView, TaskView } from "../../src/saga/types.ts";
import { OPS_INDEX_MIGRATIONS } from "../../migrations/index.ts";
import { applyMigrations } from "../../objects/migrate.ts";
import { advanceClock, api, captureErrors, completeTask, errorCode, exhaust, freshRoom, holdQueue, roomAlerts, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };
const adminToken = await token({ sub: "ops", name: "Ops", role: "admin" });
/** Longer than the webhook retry backoffs here (at most 1 s, then 2 s), shorter than a lease (5 s). */
const ALERT_RETRY_WAIT_MS = 3_000;

async function admin(path: string, init: RequestInit = {}): Promise<Response> {
	return await api(path, { ...init, token: adminToken });
}

async function adminJson<T>(path: string, init: RequestInit = {}): Promise<T> {
	const response = await admin(path, init);
	if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
	return (await response.json()) as T;
}

async function crossPost(origin: string, targets: string[], text = "hi"): Promise<{ sagaId: string; traceId: string; msgId: string }> {
	const posted = await env.ROOM.getByName(origin).post(
		ann,
		{ id: crypto.randomUUID(), text, crossPost: targets },
		crypto.randomUUID().replaceAll("-", ""),
	);
	if (!posted.ok) throw new Error("send failed");
	const result = posted.value;
	if (result.sagaId === undefined) throw new Error("send failed");
	return { sagaId: result.sagaId, traceId: result.traceId, msgId: result.msgId };
}

async function sagaView(sagaId: string): Promise<SagaView> {
	return await adminJson<SagaView>(`/v1/admin/sagas/${sagaId}`);
}

async function waitFor<T>(what: () => Promise<T | undefined | false>, timeout = 10_000): Promise<T> {
	return (await vi.waitUntil(async () => (await what()) || undefined, { timeout, interval: 25 })) as T;
}

/** Waits until the origin room has shipped everything to the index (its alarm is idle). */
async function indexed(origin: string): Promise<void> {
	await waitFor(
		async () =>
			(await runInDurableObject(
				env.ROOM.getByName(origin),
				(_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM ops_feed").one().n,
			)) === 0,
	);
}

async function webhookLog(): Promise<Array<{ body: Record<string, unknown>; failed: boolean }>> {
	return (await (await fetch("http://webhook.test/__log")).json()) as Array<{ body: Record<string, unknown>; failed: boolean }>;
}

beforeEach(async () => {
	await fetch("http://webhook.test/__reset", { method: "POST" });
});

describe("the ops index", () => {
	it("lists sagas and tasks across rooms, filtered by state and room, with cursor paging", async ({ expect }) => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		const sagas = [];
		for (let i = 0; i < 5; i++) sagas.push(await crossPost(a, [b, c]));
		for (const s of sagas) await waitFor(async () => (await sagaView(s.sagaId)).state === "succeeded");
		await indexed(a);

		const byOrigin = await adminJson<{ sagas: Array<{ sagaId: string; state: string; targets: string[] }> }>(
			`/v1/admin/sagas?room=${a}`,
		);
		expect(byOrigin.sagas.map((s) => s.sagaId).sort()).toEqual(sagas.map((s) => s.sagaId).sort());
		expect(byOrigin.sagas.every((s) => s.state === "succeeded" && s.targets.includes(b))).toBe(true);
		const byTarget = await adminJson<{ sagas: unknown[] }>(`/v1/admin/sagas?room=${c}&state=succeeded`);
		expect(byTarget.sagas).toHaveLength(5);
		const running = await adminJson<{ sagas: unknown[] }>(`/v1/admin/sagas?room=${a}&state=running`);
		expect(running.sagas).toEqual([]);

		const seen: string[] = [];
		let cursor: string | null = null;
		for (let page = 0; page < 10; page++) {
			const query: string = `/v1/admin/tasks?room=${b}&limit=2${cursor === null ? "" : `&cursor=${cursor}`}`;
			const body = await adminJson<{ tasks: TaskView[]; cursor: string | null }>(query);
			seen.push(...body.tasks.map((t) => t.taskId));
			cursor = body.cursor;
			if (cursor === null) break;
		}
		expect(new Set(seen).size).toBe(seen.length);
		expect(seen.sort()).toEqual(sagas.map((s) => `${s.sagaId}.d.${b}`).sort());
	});

	it("refuses bad filters and non-admins", async ({ expect }) => {
		for (const query of ["state=lost", "room=NO!", "limit=0", "limit=501", "cursor=garbage", "kind=other"]) {
			const response = await admin(`/v1/admin/tasks?${query}`);
			expect([query, response.status]).toEqual([query, 400]);
		}
		const user = await api("/v1/admin/tasks", { token: await token({ sub: "u" }) });
		expect([user.status, await errorCode(user)]).toEqual([403, "forbidden"]);
	});

	it("is never touched by ordinary chat messages", async ({ expect }) => {
		const room = freshRoom("plain");
		const stub = env.ROOM.getByName(room);
		const state = async () =>
			await runInDurableObject(stub, async (_i, st) => ({
				index: st.storage.sql.exec("SELECT COUNT(*) AS n FROM ops_feed WHERE sink = 'index'").one().n,
				feed: st.storage.sql.exec("SELECT COUNT(*) AS n FROM ops_feed").one().n,
				spans: st.storage.sql.exec("SELECT COUNT(*) AS n FROM spans").one().n,
				alarm: await st.storage.getAlarm(),
			}));
		// An author's first message registers the room in the author directory, once.
		await stub.post(ann, { id: "p0", text: "hello" }, "c".repeat(32));
		expect((await state()).index).toBe(0);
		await waitFor(async () => (await state()).alarm === null);
		for (let i = 1; i <= 5; i++) await stub.post(ann, { id: `p${i}`, text: "just chat" }, "c".repeat(32));
		expect(await state()).toEqual({ index: 0, feed: 0, spans: 0, alarm: null });
	});
});

describe("traces", () => {
	it("span ingress, commit, dispatch, queue delivery and every target room, in time order", async ({ expect }) => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		const { sagaId, traceId } = await crossPost(a, [b, c]);
		await waitFor(async () => (await sagaView(sagaId)).state === "succeeded");
		await indexed(a);
		const trace = await adminJson<{ traceId: string; spans: Span[] }>(`/v1/admin/traces/${traceId}`);
		expect(trace.traceId).toBe(traceId);
		const events = trace.spans.map((s) => `${s.component}:${s.event}@${s.room}`);
		for (const expected of [
			`ingress:message.received@${a}`,
			`room:message.committed@${a}`,
			`outbox:task.dispatch@${a}`,
			`queue:queue.delivered@${a}`,
			`room:deliver.ok@${b}`,
			`room:deliver.ok@${c}`,
			`saga:saga.succeeded@${a}`,
		]) {
			expect(events).toContain(expected);
		}
		const times = trace.spans.map((s) => s.at);
		expect(times).toEqual([...times].sort((x, y) => x - y));
		expect((await admin(`/v1/admin/traces/${"0".repeat(31)}f`)).status).toBe(404);
		expect((await admin("/v1/admin/traces/not-a-trace")).status).toBe(400);
	});
});

describe("retention", () => {
	it("drops spans older than the retention period when the ticker runs", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await holdQueue(a);
		await crossPost(a, [b]);
		const stub = env.ROOM.getByName(a);
		await runInDurableObject(stub, (_i, state) => {
			state.storage.sql.exec("INSERT INTO spans (trace_id, at, component, event) VALUES ('old', 1, 'test', 'ancient')");
		});
		await runDurableObjectAlarm(stub);
		const left = await runInDurableObject(stub, (_i, state) => ({
			old: state.storage.sql.exec("SELECT COUNT(*) AS n FROM spans WHERE trace_id = 'old'").one().n,
			recent: state.storage.sql.exec("SELECT COUNT(*) AS n FROM spans WHERE trace_id != 'old'").one().n,
		}));
		expect(left.old).toBe(0);
		expect(left.recent).toBeGreaterThan(0);
	});
});

describe("manual actions", () => {
	it("retries a failed compensation with a reason, once, and audits it", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await holdQueue(a);
		const { sagaId } = await crossPost(a, [b]);
		const deliver = await exhaust(a, `${sagaId}.d.${b}`);
		expect(deliver.state).toBe("failed");
		expect((await sagaView(sagaId)).state).toBe("compensating");
		const retract = await exhaust(a, `${sagaId}.r.${b}`);
		expect(retract.state).toBe("failed");
		expect((await sagaView(sagaId)).state).toBe("failed");

		const path = `/v1/admin/tasks/${retract.taskId}/actions`;
		const noReason = await admin(path, { method: "POST", body: JSON.stringify({ action: "retry" }) });
		expect([noReason.status, await errorCode(noReason)]).toEqual([400, "bad_request"]);
		const longReason = await admin(path, { method: "POST", body: JSON.stringify({ action: "retry", reason: "x".repeat(501) }) });
		expect(longReason.status).toBe(400);

		const retried = await adminJson<TaskView>(path, {
			method: "POST",
			body: JSON.stringify({ action: "retry", reason: "target is back" }),
		});
		expect(retried).toMatchObject({ taskId: retract.taskId, state: "pending", attempts: 0 });
		expect((await sagaView(sagaId)).state).toBe("compensating");
		const again = await adminJson<TaskView>(path, {
			method: "POST",
			body: JSON.stringify({ action: "retry", reason: "double click" }),
		});
		expect(again).toEqual(retried);

		await indexed(a);
		const audit = await adminJson<{ entries: AuditEntry[] }>("/v1/admin/audit?limit=500");
		const mine = audit.entries.filter((e) => e.taskId === retract.taskId);
		expect(mine).toEqual([
			{
				at: expect.any(Number),
				actor: "ops",
				taskId: retract.taskId,
				sagaId,
				action: "retry",
				reason: "target is back",
				from: "failed",
				to: "pending",
				traceId: retract.traceId,
			},
		]);
	});

	it("answers 409 where the state machine forbids the action, and 404 for unknown tasks", async ({ expect }) => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		const { sagaId } = await crossPost(a, [b]);
		await waitFor(async () => (await sagaView(sagaId)).state === "succeeded");
		const done = `${sagaId}.d.${b}`;
		for (const action of ["retry", "skip", "cancel"]) {
			const response = await admin(`/v1/admin/tasks/${done}/actions`, {
				method: "POST",
				body: JSON.stringify({ action, reason: "try" }),
			});
			expect([action, response.status, await errorCode(response)]).toEqual([action, 409, "conflict"]);
		}
		const missing = await admin(`/v1/admin/tasks/${a}~000000000000.d.${b}/actions`, {
			method: "POST",
			body: JSON.stringify({ action: "skip", reason: "x" }),
		});
		expect(missing.status).toBe(404);
		const garbage = await admin("/v1/admin/tasks/nonsense/actions", {
			method: "POST",
			body: JSON.stringify({ action: "skip", reason: "x" }),
		});
		expect(garbage.status).toBe(404);
		const badAction = await admin(`/v1/admin/tasks/${done}/actions`, {
			method: "POST",
			body: JSON.stringify({ action: "explode", reason: "x" }),
		});
		expect(badAction.status).toBe(400);

		// A pending delivery: retry is not allowed (nothing failed), cancel aborts the cross-post.
		await holdQueue(c);
		const held = await crossPost(c, [b]);
		const pending = `${held.sagaId}.d.${b}`;
		const retry = await admin(`/v1/admin/tasks/${pending}/actions`, {
			method: "POST",
			body: JSON.stringify({ action: "retry", reason: "x" }),
		});
		expect(retry.status).toBe(409);
		const cancelled = await adminJson<TaskView>(`/v1/admin/tasks/${pending}/actions`, {
			method: "POST",
			body: JSON.stringify({ action: "cancel", reason: "wrong room" }),
		});
		expect(cancelled.state).toBe("cancelled");
		const saga = await sagaView(held.sagaId);
		expect(["compensating", "compensated"]).toContain(saga.state);
		// Cancelling a compensation is refused: it would leave copies behind.
		const retract = saga.steps.find((s) => s.kind === "retract");
		if (retract !== undefined && retract.state !== "succeeded") {
			const refused = await admin(`/v1/admin/tasks/${retract.taskId}/actions`, {
				method: "POST",
				body: JSON.stringify({ action: "cancel", reason: "x" }),
			});
			expect(refused.status).toBe(409);
		}
	});

	it("skips a failed compensation, ending the saga compensated", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await holdQueue(a);
		const { sagaId } = await crossPost(a, [b]);
		await exhaust(a, `${sagaId}.d.${b}`);
		const retract = await exhaust(a, `${sagaId}.r.${b}`);
		const skipped = await adminJson<TaskView>(`/v1/admin/tasks/${retract.taskId}/actions`, {
			method: "POST",
			body: JSON.stringify({ action: "skip", reason: "copy removed by hand" }),
		});
		expect(skipped.state).toBe("skipped");
		expect((await sagaView(sagaId)).state).toBe("compensated");
	});

	it("rate-limits bulk retries", async ({ expect }) => {
		const response = await admin("/v1/admin/tasks/retry", { method: "POST", body: JSON.stringify({ reason: "recovered", limit: 5 }) });
		expect(response.status).toBe(200);
		const body = (await response.json()) as { retried: string[]; deferred: number };
		expect(Array.isArray(body.retried)).toBe(true);
		const noReason = await admin("/v1/admin/tasks/retry", { method: "POST", body: "{}" });
		expect(noReason.status).toBe(400);
		const exhausted = await runInDurableObject(env.CONTROL.getByName("global"), async (control) => {
			const now = Date.now();
			const first = await control.takeBulkRetry(1000, now);
			const second = await control.takeBulkRetry(10, now);
			return { first, second };
		});
		expect(exhausted.first.granted).toBeLessThanOrEqual(50);
		expect(exhausted.second).toEqual({ granted: 0, retryAfterMs: expect.any(Number) });
		expect(exhausted.second.retryAfterMs).toBeGreaterThan(0);
	});
});

describe("alerts", () => {
	it("posts task_failed once per failure, with the contract's fields and a Slack text", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await holdQueue(a);
		const { sagaId } = await crossPost(a, [b]);
		const failed = await exhaust(a, `${sagaId}.d.${b}`);
		// Repeated reports about the failed task change nothing.
		await completeTask(env.ROOM.getByName(a), failed.taskId, failed.attempts, { status: "transient", code: "fault", message: "late" });
		await runDurableObjectAlarm(env.ROOM.getByName(a));
		const posts = await waitFor(async () => {
			const log = await webhookLog();
			return log.some((p) => p.body.taskId === failed.taskId) ? log : undefined;
		});
		const mine = posts.filter((p) => p.body.taskId === failed.taskId && p.body.kind === "task_failed");
		expect(mine).toHaveLength(1);
		expect(mine[0]?.body).toEqual({
			kind: "task_failed",
			taskId: failed.taskId,
			sagaId,
			room: b,
			traceId: failed.traceId,
			attempts: 8,
			error: expect.stringContaining("fault"),
			at: expect.any(Number),
			text: expect.stringContaining("failed after 8 attempts"),
		});
	});

	it("raises no alert for a permanent refusal", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await env.ROOM.getByName(b).updatePolicy({ readOnly: true });
		const { sagaId } = await crossPost(a, [b]);
		await waitFor(async () => (await sagaView(sagaId)).state === "compensated");
		const alerts = await roomAlerts(a);
		expect(alerts).toEqual([]);
	});

	it("raises task_stuck once for a task unfinished past ALERT_STUCK_MS", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await holdQueue(a);
		const { sagaId } = await crossPost(a, [b]);
		const stub = env.ROOM.getByName(a);
		// Past ALERT_STUCK_MS (300 s) on the room's clock.
		await advanceClock(stub, 400_000);
		for (let i = 0; i < 3; i++) await runDurableObjectAlarm(stub);
		const alerts = await roomAlerts(a);
		expect(alerts.filter((al: AlertView) => al.kind === "task_stuck")).toEqual([
			expect.objectContaining({ kind: "task_stuck", taskId: `${sagaId}.d.${b}`, room: b }),
		]);
	});

	it("records a failing webhook visibly and retries it", async ({ expect }) => {
		const errors = captureErrors();
		await fetch("http://webhook.test/__fail", { method: "POST", body: JSON.stringify({ fail: true }) });
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		await holdQueue(a);
		const { sagaId } = await crossPost(a, [b]);
		await exhaust(a, `${sagaId}.d.${b}`);
		const stub = env.ROOM.getByName(a);
		await runDurableObjectAlarm(stub);
		// Past the webhook's retry backoff.
		await advanceClock(stub, ALERT_RETRY_WAIT_MS);
		await runDurableObjectAlarm(stub);
		const [alert] = await roomAlerts(a);
		expect(alert).toMatchObject({ kind: "task_failed", status: "pending", lastError: "webhook answered 503" });
		expect(alert?.deliveryAttempts).toBeGreaterThanOrEqual(2);
		await fetch("http://webhook.test/__fail", { method: "POST", body: JSON.stringify({ fail: false }) });
		await advanceClock(stub, ALERT_RETRY_WAIT_MS);
		await runDurableObjectAlarm(stub);
		expect((await roomAlerts(a))[0]).toMatchObject({ status: "sent", lastError: null });
		expect(errors.seen("alert delivery failed")).toBe(true);
	});
});

describe("stats", () => {
	it("counts tasks and sagas by state and histograms commit-to-done latency", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const { sagaId } = await crossPost(a, [b]);
		await waitFor(async () => (await sagaView(sagaId)).state === "succeeded");
		await indexed(a);
		const stats = await adminJson<{
			tasks: Record<string, number>;
			sagas: Record<string, number>;
			latency: { buckets: Array<{ leMs: number | null; count: number }>; count: number; p50Ms: number | null };
			oldestPendingAgeMs: number | null;
		}>("/v1/admin/stats");
		expect(stats.tasks.succeeded).toBeGreaterThanOrEqual(1);
		expect(stats.sagas.succeeded).toBeGreaterThanOrEqual(1);
		expect(stats.latency.count).toBe(stats.latency.buckets.reduce((n, bucket) => n + bucket.count, 0));
		expect(stats.latency.buckets.at(-1)?.leMs).toBeNull();
		expect(Object.keys(stats.tasks).sort()).toEqual([
			"archived",
			"cancelled",
			"failed",
			"pending",
			"processing",
			"skipped",
			"succeeded",
		]);
	});
});

describe("the index schema", () => {
	it("upgrades a shard that already counts metrics (version 4) to cross-post records, which its metrics then count", async ({
		expect,
	}) => {
		const shard = env.OPS_INDEX.getByName(`v4-${crypto.randomUUID().slice(0, 8)}`);
		const versions = await runInDurableObject(shard, (_instance, state) => {
			const sql = state.storage.sql;
			// Back to version 4 (migrations/ops/0004_metrics.sql): every table goes and comes back without version 5's.
			for (const table of [
				"sagas",
				"tasks",
				"trace_rooms",
				"audit",
				"alerts",
				"moderations",
				"metric_counters",
				"metric_sockets",
				"metric_minutes",
				"crossposts",
				"_migrations",
			])
				sql.exec(`DROP TABLE ${table}`);
			applyMigrations(
				state.storage,
				OPS_INDEX_MIGRATIONS.filter((m) => m.version <= 4),
			);
			sql.exec(
				"INSERT INTO metric_counters (series, name, part, labels, value) VALUES ('acks{transport=http}', 'acks', NULL, ?, 7)",
				JSON.stringify({ transport: "http" }),
			);
			sql.exec(
				`INSERT INTO sagas (saga_id, origin_room, msg_id, trace_id, state, targets, created_at, updated_at, version)
				 VALUES ('old-saga', 'old-room', '1-0000000000', ?, 'succeeded', '[]', 1, 2, 3)`,
				"a".repeat(32),
			);
			return applyMigrations(state.storage, OPS_INDEX_MIGRATIONS);
		});
		expect(versions).toEqual([5]);
		const traceId = "b".repeat(32);
		const delivery: TaskView = {
			taskId: "s1.d.t",
			sagaId: "s1",
			room: "t",
			kind: "deliver",
			state: "pending",
			attempts: 0,
			nextAttemptAt: 10,
			lastError: null,
			actions: [],
			origin: { kind: "room", id: "o" },
			originRoom: "o",
			traceId,
			createdAt: 10,
			updatedAt: 10,
		};
		const saga = {
			sagaId: "s1",
			originRoom: "o",
			msgId: "2-0000000000",
			traceId,
			state: "running" as const,
			createdAt: 10,
			updatedAt: 10,
			targets: ["t"],
		};
		await shard.ingest([{ type: "crosspost", version: 1, saga, tasks: [delivery] }]);
		const metrics = await shard.metrics();
		// What version 4 stored stays; the cross-post's record counts as a saga and a delivery.
		expect(metrics.counters).toEqual([{ name: "acks", labels: { transport: "http" }, value: 7 }]);
		expect(metrics.sagas.filter((row) => row.n > 0).sort((x, y) => x.state.localeCompare(y.state))).toEqual([
			{ state: "running", n: 1 },
			{ state: "succeeded", n: 1 },
		]);
		expect(metrics.tasks).toEqual([{ state: "pending", kind: "deliver", n: 1 }]);
		expect(metrics.oldestPendingCreatedAt).toBe(10);
		// A search by message id finds the cross-post in its record.
		expect((await shard.sagaOfMessage("2-0000000000"))?.sagaId).toBe("s1");
		expect((await shard.sagaOfMessage("1-0000000000"))?.sagaId).toBe("old-saga");
	});
});

describe("fault injection", () => {
	it("validates its body and replaces the whole setting", async ({ expect }) => {
		const bad = await admin("/v1/admin/faults", { method: "POST", body: JSON.stringify({ deliverFailRate: 3 }) });
		expect(bad.status).toBe(400);
		const set = await adminJson<unknown>("/v1/admin/faults", { method: "POST", body: JSON.stringify({ retractFailRate: 0.2 }) });
		expect(set).toEqual({ deliverFailRate: 0, retractFailRate: 0.2, rooms: null });
		await adminJson<unknown>("/v1/admin/faults", { method: "POST", body: "{}" });
		const user = await api("/v1/admin/faults", { method: "POST", body: "{}", token: await token({ sub: "u" }) });
		expect(user.status).toBe(403);
	});
});
