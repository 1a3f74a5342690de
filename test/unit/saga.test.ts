import { describe, it } from "vitest";
import type { SagaState, TaskState } from "../../src/protocol.ts";
import { backoffDelay, leaseMs, MAX_BACKOFF_MS } from "../../src/saga/backoff.ts";
import { barrierDecision, type BarrierRow } from "../../src/saga/barrier.ts";
import { classifyCode, classifyThrown, TimeoutError, withTimeout } from "../../src/saga/errors.ts";
import { parseFaults, shouldInjectFault } from "../../src/saga/faults.ts";
import {
	ALL_SAGA_EVENTS,
	ALL_TASK_EVENTS,
	ALL_TASK_STATES,
	isTaskTerminal,
	sagaTransition,
	taskTransition,
} from "../../src/saga/state-machine.ts";

/** A small seeded generator, so a failing property run can be reproduced. */
function seeded(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const ALLOWED_TASK_EDGES = new Set([
	"pending>processing",
	"pending>cancelled",
	"pending>skipped",
	"pending>failed",
	"processing>processing",
	"processing>succeeded",
	"processing>pending",
	"processing>failed",
	"processing>cancelled",
	"processing>skipped",
	"failed>pending",
	"failed>skipped",
	"failed>cancelled",
	"failed>archived",
	"succeeded>archived",
	"skipped>archived",
	"cancelled>archived",
]);

describe("the task state machine", () => {
	it("never makes an edge outside the allowed set, over random event sequences", ({ expect }) => {
		const random = seeded(42);
		let transitions = 0;
		for (let run = 0; run < 2000; run++) {
			let state: TaskState = "pending";
			for (let step = 0; step < 30; step++) {
				const event = ALL_TASK_EVENTS[Math.floor(random() * ALL_TASK_EVENTS.length)] ?? "claim";
				const next = taskTransition(state, event);
				if (next === undefined) continue;
				expect(ALLOWED_TASK_EDGES.has(`${state}>${next}`), `${state} -${event}-> ${next}`).toBe(true);
				transitions++;
				state = next;
			}
		}
		expect(transitions).toBeGreaterThan(3000);
	});

	it("lets only failed tasks be retried by hand, and archived tasks go nowhere", ({ expect }) => {
		for (const state of ALL_TASK_STATES) {
			expect([state, taskTransition(state, "manual_retry")]).toEqual([state, state === "failed" ? "pending" : undefined]);
		}
		for (const event of ALL_TASK_EVENTS) expect(taskTransition("archived", event)).toBeUndefined();
		expect(taskTransition("succeeded", "manual_skip")).toBeUndefined();
		expect(isTaskTerminal("failed")).toBe(true);
		expect(isTaskTerminal("processing")).toBe(false);
	});

	it("moves sagas only along their allowed edges", ({ expect }) => {
		const allowed = new Set([
			"running>succeeded",
			"running>compensating",
			"succeeded>compensating",
			"compensating>compensated",
			"compensating>failed",
			"compensating>compensating",
			"failed>compensating",
			"failed>compensated",
		]);
		const random = seeded(7);
		for (let run = 0; run < 1000; run++) {
			let state: SagaState = "running";
			for (let step = 0; step < 12; step++) {
				const event = ALL_SAGA_EVENTS[Math.floor(random() * ALL_SAGA_EVENTS.length)] ?? "compensate";
				const next = sagaTransition(state, event);
				if (next === undefined) continue;
				expect(allowed.has(`${state}>${next}`), `${state} -${event}-> ${next}`).toBe(true);
				state = next;
			}
		}
		expect(sagaTransition("compensated", "compensate")).toBeUndefined();
	});
});

describe("the backoff schedule", () => {
	it("doubles per attempt within its jitter band", ({ expect }) => {
		const low = () => 0;
		const high = () => 0.999999;
		for (let attempt = 1; attempt <= 8; attempt++) {
			const step = 1000 * 2 ** (attempt - 1);
			expect(backoffDelay(attempt, 1000, low)).toBe(step / 2);
			expect(backoffDelay(attempt, 1000, high)).toBeLessThanOrEqual(step);
			expect(backoffDelay(attempt + 1, 1000, low)).toBeGreaterThanOrEqual(backoffDelay(attempt, 1000, high) - 1);
		}
	});

	it("is capped and spreads retries out", ({ expect }) => {
		expect(backoffDelay(40, 1000, () => 0.999999)).toBeLessThanOrEqual(MAX_BACKOFF_MS);
		const random = seeded(3);
		const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5, 1000, random)));
		expect(delays.size).toBeGreaterThan(40);
	});

	it("gives claims a lease of 30 base delays between 5 s and 60 s", ({ expect }) => {
		expect([leaseMs(50), leaseMs(1000), leaseMs(10_000)]).toEqual([5000, 30_000, 60_000]);
	});
});

describe("the barrier rules", () => {
	const delivered: BarrierRow = { op: "deliver", outcome: "applied", seq: 4, msgId: "4-x" };
	const tombstone: BarrierRow = { op: "retract", outcome: "tombstone", seq: null, msgId: null };

	it("applies a first delivery and replays a repeated one", ({ expect }) => {
		expect(barrierDecision("deliver", {})).toEqual({ action: "apply" });
		expect(barrierDecision("deliver", { deliver: delivered })).toEqual({ action: "replay", row: delivered });
	});

	it("refuses a delivery that arrives after its compensation", ({ expect }) => {
		expect(barrierDecision("deliver", { retract: tombstone })).toEqual({ action: "refuse_late_delivery" });
	});

	it("makes a retract of a missing copy a null compensation", ({ expect }) => {
		expect(barrierDecision("retract", {})).toEqual({ action: "null_compensation" });
	});

	it("retracts a delivered copy once", ({ expect }) => {
		expect(barrierDecision("retract", { deliver: delivered })).toEqual({ action: "retract_copy", copy: delivered });
		const done: BarrierRow = { op: "retract", outcome: "applied", seq: 5, msgId: "4-x" };
		expect(barrierDecision("retract", { deliver: delivered, retract: done })).toEqual({ action: "replay", row: done });
	});
});

describe("error classes", () => {
	it("treats policy refusals as permanent and the rest as retryable", ({ expect }) => {
		expect(["read_only", "banned", "forbidden", "bad_request"].map(classifyCode)).toEqual(Array(4).fill("permanent"));
		expect(["fault", "internal", "rate_limited"].map(classifyCode)).toEqual(Array(3).fill("transient"));
		expect(classifyCode("something new")).toBe("unknown");
		expect(classifyThrown(new TimeoutError("x", 1))).toBe("unknown");
		expect(classifyThrown(Object.assign(new Error("busy"), { overloaded: true }))).toBe("transient");
	});

	it("times out slow work and passes fast work through", async ({ expect }) => {
		await expect(withTimeout("slow", 10, new Promise(() => undefined))).rejects.toBeInstanceOf(TimeoutError);
		expect(await withTimeout("fast", 1000, Promise.resolve(7))).toBe(7);
	});
});

describe("fault settings", () => {
	it("replace the whole setting, absent rates being 0", ({ expect }) => {
		expect(parseFaults({ deliverFailRate: 0.5 })).toEqual({
			ok: true,
			value: { deliverFailRate: 0.5, retractFailRate: 0, rooms: null },
		});
		for (const bad of [{ deliverFailRate: 2 }, { retractFailRate: "1" }, { rooms: "a" }, { rooms: ["A!"] }, []]) {
			expect(parseFaults(bad).ok).toBe(false);
		}
	});

	it("apply only to the listed rooms and the matching kind", ({ expect }) => {
		const faults = { deliverFailRate: 1, retractFailRate: 0, rooms: ["b"] };
		expect(shouldInjectFault(faults, "deliver", "b")).toBe(true);
		expect(shouldInjectFault(faults, "deliver", "c")).toBe(false);
		expect(shouldInjectFault(faults, "retract", "b")).toBe(false);
	});
});

describe("queue-level retries", () => {
	it("back off from 1 s and are capped at a minute", async ({ expect }) => {
		const { queueRetryDelaySeconds } = await import("../../src/queue.ts");
		expect([1, 2, 3, 4, 7, 20].map(queueRetryDelaySeconds)).toEqual([1, 2, 4, 8, 60, 60]);
	});
});
