/**
 * The outbox's unit of work: every write happens inside `Outbox.transact`, which returns what
 * that unit changed. A write outside one is refused before it touches a row, and nothing a
 * unit recorded (committed or rolled back) reaches the next one.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, it } from "vitest";
import { Outbox, OutsideUnitOfWork } from "../../objects/outbox.ts";
import type { MessageEvent } from "../../src/protocol.ts";
import { freshRoom } from "./helpers.ts";

const settings = { baseDelayMs: 50, maxAttempts: 8, leaseMs: 5000 };

function message(msgId: string): MessageEvent {
	return { type: "message", seq: 1, msgId, author: { id: "ann", name: "Ann" }, text: "hello", ts: 1, traceId: "a".repeat(32) };
}

/** Runs `test` against an outbox over a fresh room's SQLite (the room's constructor migrates it). */
async function withOutbox<T>(test: (outbox: Outbox, storage: DurableObjectStorage, origin: string) => T): Promise<Awaited<T>> {
	const origin = freshRoom("uow");
	return await runInDurableObject(
		env.ROOM.getByName(origin),
		async (_instance, state) => await test(new Outbox(state.storage.sql, () => origin, settings), state.storage, origin),
	);
}

function rows(storage: DurableObjectStorage): { sagas: number; tasks: number } {
	return {
		sagas: storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sagas").one().n,
		tasks: storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n,
	};
}

describe("the outbox unit of work", () => {
	it("refuses every write outside a unit, before it touches a row", async ({ expect }) => {
		const refused = await withOutbox((outbox, storage, origin) => {
			const sagaId = `${origin}~000000000001`;
			outbox.transact(() => outbox.startSaga(sagaId, message("1-aaaaaaaaaa"), ["b", "c"], 1));
			const before = rows(storage);
			const taskId = `${sagaId}.d.b`;
			const writes: Record<string, () => unknown> = {
				startSaga: () => outbox.startSaga(`${origin}~000000000002`, message("2-aaaaaaaaaa"), ["b"], 2),
				startModeration: () =>
					outbox.startModeration(
						{
							id: "mod@000000000001",
							actor: "ops",
							reason: "spam",
							traceId: "b".repeat(32),
							selector: { room: "b" },
							plan: [{ room: "b", msgIds: ["1-x"], copies: [], truncated: false }],
						},
						2,
					),
				claimDue: () => outbox.claimDue(2),
				releaseUnsent: () => outbox.releaseUnsent([taskId], "queue down", 2),
				complete: () => outbox.complete(taskId, 1, { status: "ok", seq: 1, msgId: "1-b", detail: "copy delivered" }, 2),
				deadLetter: () => outbox.deadLetter(taskId, "dead-lettered", 2),
				compensate: () => outbox.compensate(sagaId, "deleted", 2),
				scrubText: () => outbox.scrubText(sagaId),
				act: () => outbox.act(taskId, "skip", 2),
				archiveOld: () => outbox.archiveOld(Number.MAX_SAFE_INTEGER),
				raiseStuck: () => outbox.raiseStuck(Number.MAX_SAFE_INTEGER, 0),
			};
			const outcomes = Object.entries(writes).map(([name, write]) => {
				try {
					write();
					return [name, "written"];
				} catch (error) {
					return [name, error instanceof OutsideUnitOfWork ? "refused" : String(error)];
				}
			});
			return { outcomes, unchanged: JSON.stringify(rows(storage)) === JSON.stringify(before), task: outbox.getTask(taskId) };
		});
		expect(refused.outcomes).toEqual(refused.outcomes.map(([name]) => [name, "refused"]));
		expect(refused.unchanged).toBe(true);
		expect(refused.task).toMatchObject({ state: "pending", attempts: 0 });
	});

	it("returns exactly the changes made within it, and the next unit starts empty", async ({ expect }) => {
		const units = await withOutbox((outbox, _storage, origin) => {
			const sagaId = `${origin}~000000000003`;
			const started = outbox.transact(() => outbox.startSaga(sagaId, message("3-aaaaaaaaaa"), ["b", "c"], 1)).changes;
			const claimed = outbox.transact(() => outbox.claimDue(2));
			const done = outbox.transact(() =>
				claimed.result.map((task) =>
					outbox.complete(task.taskId, task.attempt, { status: "ok", seq: 1, msgId: "1-x", detail: "copy delivered" }, 3),
				),
			).changes;
			const idle = outbox.transact(() => outbox.claimDue(4)).changes;
			const summary = (changes: typeof started) => ({
				tasks: changes.tasks.map((c) => `${c.task.room}:${c.event}`),
				sagas: changes.sagas.map((c) => `${c.from ?? "new"}>${c.saga.state}`),
				alerts: changes.alerts.length,
				reports: changes.reports.map((r) => ({ state: r.state, steps: r.steps })),
			});
			return { started: summary(started), claimed: summary(claimed.changes), done: summary(done), idle: summary(idle) };
		});
		expect(units).toEqual({
			started: { tasks: ["b:create", "c:create"], sagas: ["new>running"], alerts: 0, reports: [] },
			claimed: { tasks: ["b:claim", "c:claim"], sagas: [], alerts: 0, reports: [] },
			done: {
				tasks: ["b:succeed", "c:succeed"],
				sagas: ["running>succeeded"],
				alerts: 0,
				reports: [
					{
						state: "succeeded",
						steps: [
							{ room: "b", state: "succeeded" },
							{ room: "c", state: "succeeded" },
						],
					},
				],
			},
			idle: { tasks: [], sagas: [], alerts: 0, reports: [] },
		});
	});

	it("keeps nothing of a unit that threw: its rows roll back with the transaction, its changes are gone", async ({ expect }) => {
		const after = await withOutbox((outbox, storage, origin) => {
			let thrown = "";
			try {
				storage.transactionSync(() =>
					outbox.transact(() => {
						outbox.startSaga(`${origin}~000000000004`, message("4-aaaaaaaaaa"), ["b"], 1);
						throw new Error("crash mid-commit");
					}),
				);
			} catch (error) {
				thrown = String(error);
			}
			const next = outbox.transact(() => outbox.claimDue(2)).changes;
			return { thrown, rows: rows(storage), next: [next.tasks.length, next.sagas.length, next.alerts.length, next.reports.length] };
		});
		expect(after).toEqual({ thrown: "Error: crash mid-commit", rows: { sagas: 0, tasks: 0 }, next: [0, 0, 0, 0] });
	});

	it("refuses a unit opened inside another", async ({ expect }) => {
		const nested = await withOutbox((outbox) => {
			try {
				outbox.transact(() => outbox.transact(() => 1));
				return "opened";
			} catch (error) {
				return String(error);
			}
		});
		expect(nested).toBe("Error: an outbox unit of work is already open");
	});
});
