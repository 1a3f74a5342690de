/**
 * The saga rules (src/saga/policy.ts) as a specification. The state spaces are small, so
 * each rule is checked over all of it: every task kind × task state × saga state for the
 * manual actions, every combination of one to three tasks for settling, every small set of
 * deliveries for compensation plans. Named examples come first, as the readable part.
 */
import { describe, it } from "vitest";
import { ERROR_STATUS } from "../../src/errors.ts";
import type { SagaState, TaskState } from "../../src/protocol.ts";
import { classifyCode } from "../../src/saga/errors.ts";
import {
	actionRefusal,
	allowedActions,
	attemptDecision,
	compensationPlan,
	copyRooms,
	deadLetterDecision,
	dueTasks,
	implicitSagaState,
	isDone,
	type LiveTask,
	mayAttemptDirectly,
	mayClaimAtCommit,
	nextDueAt,
	MANUAL_ACTIONS,
	mayHaveCopy,
	noCopyCanAppear,
	type PlannedTask,
	type SagaTask,
	settleEvent,
} from "../../src/saga/policy.ts";
import { ALL_SAGA_STATES, ALL_TASK_STATES, isTaskTerminal, sagaTransition } from "../../src/saga/state-machine.ts";
import { type ManualAction, TASK_OUTCOME_CODES, type TaskKind, type TaskOutcome } from "../../src/saga/types.ts";

/** The kinds that bear on a saga's state (v1.3 edits never do: test/unit/saga-edits.test.ts). */
const KINDS: readonly TaskKind[] = ["deliver", "retract", "moderate"];
const ALL_KINDS: readonly TaskKind[] = [...KINDS, "edit", "mention", "unmention"];
const SAGA_STATES: ReadonlyArray<SagaState | undefined> = [...ALL_SAGA_STATES, undefined];
const LIVE: readonly TaskState[] = ["pending", "processing"];

/** Every list of `n` items drawn from `items`, order mattering. */
function tuples<T>(items: readonly T[], n: number): T[][] {
	if (n === 0) return [[]];
	return tuples(items, n - 1).flatMap((rest) => items.map((item) => [...rest, item]));
}

const TASKS: SagaTask[] = KINDS.flatMap((kind) => ALL_TASK_STATES.map((state) => ({ kind, state })));
/** Every saga of zero to three tasks (21 task variants: 1 + 21 + 441 + 9261 combinations). */
const TASK_LISTS: SagaTask[][] = [0, 1, 2, 3].flatMap((n) => tuples(TASKS, n));

const t = (kind: TaskKind, state: TaskState): SagaTask => ({ kind, state });
const show = (tasks: readonly SagaTask[]) => tasks.map((task) => `${task.kind}:${task.state}`).join(", ");

/** No action for any kind (a finished task). */
function none(): Record<TaskKind, () => ManualAction[]> {
	return {
		deliver: () => [],
		retract: () => [],
		moderate: () => [],
		edit: () => [],
		mention: () => [],
		unmention: () => [],
	};
}

describe("manual actions", () => {
	/** The whole rule, as the operations guide states it: what each kind allows from each state. */
	const ALLOWED: Record<TaskState, Record<TaskKind, (saga: SagaState | undefined) => ManualAction[]>> = {
		pending: {
			deliver: () => ["skip", "cancel"],
			retract: () => ["skip"],
			moderate: () => ["skip", "cancel"],
			edit: () => ["skip", "cancel"],
			mention: () => ["skip", "cancel"],
			unmention: () => ["skip"],
		},
		processing: {
			deliver: () => ["skip", "cancel"],
			retract: () => ["skip"],
			moderate: () => ["skip", "cancel"],
			edit: () => ["skip", "cancel"],
			mention: () => ["skip", "cancel"],
			unmention: () => ["skip"],
		},
		failed: {
			// A delivery is retried only while its cross-post still runs.
			deliver: (saga) => (saga === "running" ? ["retry", "skip", "cancel"] : ["skip", "cancel"]),
			// A compensation is never cancelled: that would leave a copy behind.
			retract: () => ["retry", "skip"],
			moderate: () => ["retry", "skip", "cancel"],
			// An edit may be retried whatever its saga does: the copy's barrier decides.
			edit: () => ["retry", "skip", "cancel"],
			// Inbox tasks (v1.4) likewise: the inbox's register decides; an unmention, like a
			// compensation, is never cancelled (that would leave the mention behind).
			mention: () => ["retry", "skip", "cancel"],
			unmention: () => ["retry", "skip"],
		},
		succeeded: none(),
		skipped: none(),
		cancelled: none(),
		archived: none(),
	};

	it("allow exactly what the guide's table says, for every kind, task state and saga state", ({ expect }) => {
		let combinations = 0;
		for (const kind of ALL_KINDS) {
			for (const state of ALL_TASK_STATES) {
				for (const sagaState of SAGA_STATES) {
					const subject = { kind, state, sagaState };
					expect([kind, state, sagaState, allowedActions(subject)]).toEqual([
						kind,
						state,
						sagaState,
						ALLOWED[state][kind](sagaState),
					]);
					for (const action of MANUAL_ACTIONS) {
						expect(actionRefusal(subject, action) === undefined).toBe(ALLOWED[state][kind](sagaState).includes(action));
					}
					combinations++;
				}
			}
		}
		expect(combinations).toBe(ALL_KINDS.length * 7 * 6);
	});

	it("say why an action is refused: the task's state first, then the saga's, then the kind", ({ expect }) => {
		const past = { retry: "retried", skip: "skipped", cancel: "cancelled" } as const;
		for (const kind of KINDS) {
			for (const state of ALL_TASK_STATES) {
				for (const sagaState of SAGA_STATES) {
					for (const action of MANUAL_ACTIONS) {
						const refusal = actionRefusal({ kind, state, sagaState }, action);
						const machineAllows = action === "retry" ? state === "failed" : ["pending", "processing", "failed"].includes(state);
						let expected: string | undefined;
						if (!machineAllows) expected = `a ${state} task cannot be ${past[action]}`;
						else if (action === "retry" && kind === "deliver" && sagaState !== "running") {
							expected = `the saga is ${sagaState ?? "gone"}: a delivery can only be retried while it runs`;
						} else if (action === "cancel" && kind === "retract")
							expected = "a compensation cannot be cancelled; skip it if the copy is already gone";
						expect([kind, state, sagaState, action, refusal]).toEqual([kind, state, sagaState, action, expected]);
					}
				}
			}
		}
	});

	it("list allowed actions in a stable order: retry, skip, cancel", ({ expect }) => {
		expect(allowedActions({ kind: "moderate", state: "failed", sagaState: "running" })).toEqual(["retry", "skip", "cancel"]);
		expect(allowedActions({ kind: "deliver", state: "failed", sagaState: undefined })).toEqual(["skip", "cancel"]);
	});
});

describe("attempts", () => {
	const STATUSES: ReadonlyArray<TaskOutcome["status"]> = ["ok", "transient", "permanent", "deferred"];
	const MAX = 8;

	it("let only the latest attempt of a processing task decide anything", ({ expect }) => {
		for (const state of ALL_TASK_STATES) {
			for (const status of STATUSES) {
				for (const attempts of [1, 3, MAX]) {
					for (const attempt of [attempts - 1, attempts, attempts + 1]) {
						const decision = attemptDecision({ state, attempts }, attempt, status, MAX);
						const current = state === "processing" && attempt === attempts;
						expect([state, status, attempts, attempt, decision.action === "ignore"]).toEqual([
							state,
							status,
							attempts,
							attempt,
							!current,
						]);
					}
				}
			}
		}
	});

	it("succeed on ok, give a deferred attempt back, retry transient failures while attempts remain", ({ expect }) => {
		const processing = (attempts: number) => ({ state: "processing" as const, attempts });
		expect(attemptDecision(processing(1), 1, "ok", MAX)).toEqual({ action: "succeed" });
		expect(attemptDecision(processing(1), 1, "deferred", MAX)).toEqual({ action: "defer" });
		for (let attempts = 1; attempts < MAX; attempts++) {
			expect(attemptDecision(processing(attempts), attempts, "transient", MAX)).toEqual({ action: "retry" });
		}
		// Exhausted: an incident, so it alerts.
		expect(attemptDecision(processing(MAX), MAX, "transient", MAX)).toEqual({ action: "fail", alert: true });
		// A permanent refusal (read-only, banned) is an outcome, not an incident: no alert, on any attempt.
		for (let attempts = 1; attempts <= MAX; attempts++) {
			expect(attemptDecision(processing(attempts), attempts, "permanent", MAX)).toEqual({ action: "fail", alert: false });
		}
	});

	it("fail every live task the dead-letter queue gave up on, with an alert, and leave finished ones", ({ expect }) => {
		for (const state of ALL_TASK_STATES) {
			expect([state, deadLetterDecision(state)]).toEqual([
				state,
				LIVE.includes(state) ? { action: "fail", alert: true } : { action: "ignore" },
			]);
		}
	});
});

describe("settling a saga", () => {
	const examples: Array<[string, SagaState, SagaTask[], ReturnType<typeof settleEvent>]> = [
		["a cross-post still delivering", "running", [t("deliver", "succeeded"), t("deliver", "processing")], undefined],
		["a cross-post delivered everywhere", "running", [t("deliver", "succeeded"), t("deliver", "succeeded")], "all_delivered"],
		[
			"a cross-post with one room skipped by an operator",
			"running",
			[t("deliver", "succeeded"), t("deliver", "skipped")],
			"all_delivered",
		],
		["a cross-post whose delivery failed", "running", [t("deliver", "failed"), t("deliver", "pending")], "compensate"],
		[
			"a cross-post whose delivery an operator cancelled",
			"running",
			[t("deliver", "succeeded"), t("deliver", "cancelled")],
			"compensate",
		],
		["an operator moderation that matched nothing", "running", [], "all_delivered"],
		["an operator moderation with a failed room", "running", [t("moderate", "failed"), t("moderate", "succeeded")], undefined],
		[
			"an operator moderation with a room cancelled",
			"running",
			[t("moderate", "cancelled"), t("moderate", "succeeded")],
			"all_delivered",
		],
		["a compensation still retracting", "compensating", [t("deliver", "failed"), t("retract", "pending")], undefined],
		["a compensation whose retracts are done", "compensating", [t("deliver", "failed"), t("retract", "succeeded")], "all_retracted"],
		["a compensation with nothing to retract (never attempted)", "compensating", [t("deliver", "cancelled")], "all_retracted"],
		["a compensation whose retract failed", "compensating", [t("retract", "failed"), t("retract", "pending")], "retract_failed"],
		[
			"a compensation whose failed retract was skipped",
			"compensating",
			[t("retract", "skipped"), t("retract", "succeeded")],
			"all_retracted",
		],
		["a failed compensation waiting for its operator", "failed", [t("deliver", "failed"), t("retract", "failed")], undefined],
		[
			"a failed compensation whose retract was retried",
			"failed",
			[t("deliver", "failed"), t("retract", "pending")],
			"resume_compensation",
		],
		["a failed compensation whose retract was skipped", "failed", [t("deliver", "failed"), t("retract", "skipped")], "all_retracted"],
		[
			"a failed compensation with one retract retried and another still failed",
			"failed",
			[t("retract", "pending"), t("retract", "failed")],
			undefined,
		],
		["a succeeded cross-post (a delete compensates it on request)", "succeeded", [t("deliver", "succeeded")], undefined],
		["a compensated saga", "compensated", [t("retract", "succeeded")], undefined],
	];

	it.for(examples)("%s (%s)", ([, state, tasks, event], { expect }) => {
		expect(settleEvent(state, tasks)).toBe(event);
	});

	it("counts as done: succeeded, skipped, and an operator moderation's cancelled room", ({ expect }) => {
		const done = TASKS.filter(isDone).map((task) => `${task.kind}:${task.state}`);
		expect(done).toEqual([
			"deliver:succeeded",
			"deliver:skipped",
			"retract:succeeded",
			"retract:skipped",
			"moderate:succeeded",
			"moderate:skipped",
			"moderate:cancelled",
		]);
	});

	it("only ever asks for an edge the state machine has, over every saga state and 0-3 tasks", ({ expect }) => {
		let asked = 0;
		for (const state of ALL_SAGA_STATES) {
			for (const tasks of TASK_LISTS) {
				const event = settleEvent(state, tasks);
				if (event === undefined) continue;
				asked++;
				if (sagaTransition(state, event) === undefined) expect.fail(`${state} with [${show(tasks)}] asks for ${event}`);
			}
		}
		expect(asked).toBeGreaterThan(10_000);
	});

	it("moves a running saga exactly as its deliveries and done tasks say, for every 0-3 tasks", ({ expect }) => {
		for (const tasks of TASK_LISTS) {
			const aborted = tasks.some((task) => task.kind === "deliver" && (task.state === "failed" || task.state === "cancelled"));
			const expected = aborted ? "compensate" : tasks.every(isDone) ? "all_delivered" : undefined;
			const event = settleEvent("running", tasks);
			if (event !== expected) expect.fail(`running with [${show(tasks)}]: ${event} instead of ${expected}`);
		}
	});

	it("ends a compensation only when no copy can still appear, and fails it on any failed retract, for every 0-3 tasks", ({ expect }) => {
		for (const tasks of TASK_LISTS) {
			const failedRetract = tasks.some((task) => task.kind === "retract" && task.state === "failed");
			const live = tasks.some((task) => LIVE.includes(task.state));
			const compensating = settleEvent("compensating", tasks);
			const failed = settleEvent("failed", tasks);
			const expectedCompensating = failedRetract ? "retract_failed" : live ? undefined : "all_retracted";
			const expectedFailed = failedRetract ? undefined : live ? "resume_compensation" : "all_retracted";
			if (compensating !== expectedCompensating || failed !== expectedFailed) {
				expect.fail(
					`[${show(tasks)}]: compensating → ${compensating} (want ${expectedCompensating}), failed → ${failed} (want ${expectedFailed})`,
				);
			}
			// all_retracted is exactly "no copy can still appear".
			expect(compensating === "all_retracted").toBe(noCopyCanAppear(tasks));
		}
	});

	it("never moves a succeeded or compensated saga on its tasks", ({ expect }) => {
		for (const tasks of TASK_LISTS) {
			expect(settleEvent("succeeded", tasks)).toBeUndefined();
			expect(settleEvent("compensated", tasks)).toBeUndefined();
		}
	});

	it("reaches a fixed point within two events from every saga state and 0-3 tasks", ({ expect }) => {
		const ATTEMPTED = [0, 1];
		let longest = 0;
		for (const start of ALL_SAGA_STATES) {
			for (const kinds of TASK_LISTS) {
				for (const attempts of ATTEMPTED) {
					// As the outbox does: apply the event (a compensation also carries out its plan), ask again.
					let state: SagaState = start;
					let tasks: PlannedTask[] = kinds.map((task, i) => ({ ...task, taskId: `t${i}`, room: `r${i}`, attempts }));
					let steps = 0;
					for (let event = settleEvent(state, tasks); event !== undefined; event = settleEvent(state, tasks)) {
						if (++steps > 2) expect.fail(`${start} with [${show(kinds)}] does not settle`);
						const next = sagaTransition(state, event);
						if (next === undefined) throw new Error(`${state} -${event}-> nowhere`);
						state = next;
						if (event === "compensate") tasks = applyPlan(tasks);
					}
					longest = Math.max(longest, steps);
				}
			}
		}
		expect(longest).toBe(2);
	});
});

/** What the outbox writes for a compensation plan: cancelled deliveries, new pending retracts. */
function applyPlan(tasks: readonly PlannedTask[]): PlannedTask[] {
	const plan = compensationPlan(tasks);
	const cancelled = tasks.map((task) => (plan.cancel.includes(task.taskId) ? { ...task, state: "cancelled" as const } : task));
	return [
		...cancelled,
		...plan.retract.map(({ room }) => ({
			taskId: `retract-${room}`,
			kind: "retract" as const,
			state: "pending" as const,
			room,
			attempts: 0,
		})),
	];
}

describe("compensation plans", () => {
	const deliver = (room: string, state: TaskState, attempts: number): PlannedTask => ({
		taskId: `d.${room}`,
		kind: "deliver",
		state,
		room,
		attempts,
	});
	const retract = (room: string, state: TaskState): PlannedTask => ({ taskId: `r.${room}`, kind: "retract", state, room, attempts: 1 });

	it("cancel live deliveries and retract where a copy may be, newest step first", ({ expect }) => {
		const plan = compensationPlan([
			deliver("b", "succeeded", 1),
			deliver("c", "processing", 1),
			deliver("d", "pending", 0),
			deliver("e", "failed", 8),
		]);
		expect(plan).toEqual({
			cancel: ["d.d", "d.c"],
			// d was never attempted: no copy can appear there, so it needs no retract.
			retract: [
				{ room: "e", delivery: "d.e" },
				{ room: "c", delivery: "d.c" },
				{ room: "b", delivery: "d.b" },
			],
		});
	});

	it("add no second retract to a room that has one (a second delete, a second moderation)", ({ expect }) => {
		expect(
			compensationPlan([
				deliver("b", "succeeded", 1),
				deliver("c", "cancelled", 2),
				retract("b", "failed"),
				retract("c", "succeeded"),
			]),
		).toEqual({ cancel: [], retract: [] });
	});

	it("say where a copy may exist: delivered, or attempted at least once", ({ expect }) => {
		expect([
			mayHaveCopy(deliver("b", "succeeded", 1)),
			mayHaveCopy(deliver("b", "pending", 1)),
			mayHaveCopy(deliver("b", "pending", 0)),
			mayHaveCopy(retract("b", "succeeded")),
		]).toEqual([true, true, false, false]);
		expect(
			copyRooms([deliver("b", "succeeded", 1), deliver("c", "cancelled", 0), deliver("d", "failed", 3), retract("b", "pending")]),
		).toEqual(["b", "d"]);
	});

	it("leave no copy possible once its retracts finish, for every 1-3 deliveries with or without a retract", ({ expect }) => {
		const variants = ALL_TASK_STATES.flatMap((state) => [0, 1].map((attempts) => ({ state, attempts })));
		let plans = 0;
		for (const n of [1, 2, 3]) {
			for (const deliveries of tuples(variants, n)) {
				for (const withRetract of tuples([false, true], n)) {
					const rooms = deliveries.map((_, i) => `r${i}`);
					const tasks: PlannedTask[] = [
						...deliveries.map(({ state, attempts }, i) => deliver(rooms[i] ?? "", state, attempts)),
						...rooms.filter((_, i) => withRetract[i]).map((room) => retract(room, "succeeded")),
					];
					const plan = compensationPlan(tasks);
					const after = applyPlan(tasks);
					const context = `[${tasks.map((task) => `${task.kind}:${task.room}:${task.state}:${task.attempts}`).join(", ")}]`;
					// Exactly the live deliveries are cancelled, newest first.
					const live = tasks
						.filter((task) => task.kind === "deliver" && !isTaskTerminal(task.state))
						.map((task) => task.taskId)
						.reverse();
					if (JSON.stringify(plan.cancel) !== JSON.stringify(live)) expect.fail(`${context}: cancels ${plan.cancel}`);
					// Exactly the rooms with a possible copy and no retract get one, newest first, once each.
					const wanted = tasks
						.filter((task, i) => task.kind === "deliver" && mayHaveCopy(task) && withRetract[i] !== true)
						.map((task) => task.room)
						.reverse();
					if (JSON.stringify(plan.retract.map((r) => r.room)) !== JSON.stringify(wanted))
						expect.fail(`${context}: retracts ${plan.retract.map((r) => r.room)}`);
					// No delivery stays live, and once every retract succeeds no copy can appear.
					const finished = after.map((task) => (task.kind === "retract" ? { ...task, state: "succeeded" as const } : task));
					if (after.some((task) => task.kind === "deliver" && !isTaskTerminal(task.state)) || !noCopyCanAppear(finished))
						expect.fail(`${context}: leaves a copy possible`);
					plans++;
				}
			}
		}
		expect(plans).toBe(14 * 2 + 14 ** 2 * 4 + 14 ** 3 * 8);
	});
});

describe("outcome codes", () => {
	it("name each task-specific code once, apart from the contract's error codes", ({ expect }) => {
		expect(Object.entries(TASK_OUTCOME_CODES).every(([key, value]) => key === value)).toBe(true);
		expect(Object.keys(TASK_OUTCOME_CODES).filter((code) => code in ERROR_STATUS)).toEqual([]);
	});

	it("classify every code a target can answer with", ({ expect }) => {
		const classes = Object.fromEntries(
			[...Object.keys(ERROR_STATUS), ...Object.keys(TASK_OUTCOME_CODES)].map((code) => [code, classifyCode(code)]),
		);
		expect(classes).toEqual({
			bad_request: "permanent",
			unauthorized: "unknown",
			forbidden: "permanent",
			not_found: "unknown",
			conflict: "transient",
			out_of_order: "unknown",
			too_large: "unknown",
			rate_limited: "transient",
			read_only: "permanent",
			banned: "permanent",
			internal: "transient",
			deferred: "unknown",
			fault: "transient",
			unavailable: "unknown",
			unknown: "unknown",
		});
	});
});

describe("dispatch", () => {
	const task = (
		taskId: string,
		state: "pending" | "processing",
		ord: number,
		at: number,
		room = "b",
		kind: TaskKind = "deliver",
	): LiveTask => ({
		taskId,
		kind,
		state,
		room,
		ord,
		nextAttemptAt: at,
		leaseUntil: state === "processing" ? at : null,
	});

	it("claims due deliveries to a room together, in commit order, and none behind one in flight or waiting", ({ expect }) => {
		expect(dueTasks([task("2", "pending", 2, 5), task("1", "pending", 1, 5), task("3", "pending", 3, 5, "c")], 10)).toEqual([
			"1",
			"2",
			"3",
		]);
		// In flight (lease until 20): the later delivery to b waits; c is another line.
		expect(dueTasks([task("1", "processing", 1, 20), task("2", "pending", 2, 5), task("3", "pending", 3, 5, "c")], 10)).toEqual(["3"]);
		// Waiting for its retry (due at 20): the later one waits too.
		expect(dueTasks([task("1", "pending", 1, 20), task("2", "pending", 2, 5)], 10)).toEqual([]);
		// A lease that ran out is claimed again, and the line behind it stays blocked.
		expect(dueTasks([task("1", "processing", 1, 5), task("2", "pending", 2, 5)], 10)).toEqual(["1"]);
		// Retracts and moderations keep no line.
		expect(dueTasks([task("1", "processing", 1, 20), task("2", "pending", 2, 5, "b", "retract")], 10)).toEqual(["2"]);
		expect(dueTasks([task("1", "pending", 1, 5), task("2", "pending", 2, 5, "c")], 10, 1)).toEqual(["1"]);
	});

	it("wakes for the head of each line and for leases, not for what waits behind", ({ expect }) => {
		expect(nextDueAt([])).toBeNull();
		expect(nextDueAt([task("1", "processing", 1, 30), task("2", "pending", 2, 5)])).toBe(30);
		expect(nextDueAt([task("1", "pending", 1, 30), task("2", "pending", 2, 5, "c")])).toBe(5);
		expect(nextDueAt([task("2", "pending", 2, 40), task("1", "pending", 1, 30)])).toBe(30);
	});

	it("claims at commit only behind deliveries that are in the origin's own direct line", ({ expect }) => {
		expect(mayClaimAtCommit(0, 0)).toBe(true);
		expect(mayClaimAtCommit(2, 2)).toBe(true);
		expect(mayClaimAtCommit(3, 2)).toBe(false);
	});

	it("attempts directly only a task still processing on that attempt under a lease that has not run out", ({ expect }) => {
		const leased = { state: "processing" as const, attempts: 1, leaseUntil: 100 };
		expect(mayAttemptDirectly(leased, 1, 50)).toBe(true);
		expect(mayAttemptDirectly(leased, 1, 100)).toBe(false);
		expect(mayAttemptDirectly({ ...leased, attempts: 2 }, 1, 50)).toBe(false);
		expect(mayAttemptDirectly({ ...leased, state: "cancelled", leaseUntil: null }, 1, 50)).toBe(false);
		expect(mayAttemptDirectly({ ...leased, state: "pending", leaseUntil: null }, 1, 50)).toBe(false);
		expect(mayAttemptDirectly(undefined, 1, 50)).toBe(false);
	});

	it("reads a cross-post without a saga row as running until every task is done", ({ expect }) => {
		for (const tasks of TASK_LISTS) {
			const expected = tasks.length > 0 && tasks.every(isDone) ? "succeeded" : "running";
			expect([show(tasks), implicitSagaState(tasks)]).toEqual([show(tasks), expected]);
		}
	});
});
