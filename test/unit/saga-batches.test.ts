import { describe, it } from "vitest";
import { applyInOrder, batchTasks } from "../../src/saga/batches.ts";
import type { TaskMessage } from "../../src/saga/types.ts";

const task = (n: number, room: string, kind: TaskMessage["kind"] = "deliver", text = "x"): TaskMessage => ({
	taskId: `o~000000000000.${kind[0]}.${room}.${n}`,
	sagaId: `o~${String(n).padStart(12, "0")}`,
	kind,
	origin: { kind: "room", id: "o" },
	targetRoom: room,
	dedupKey: `k${n}`,
	traceId: "a".repeat(32),
	attempt: 1,
	payload: { msgId: `${n}-0000000000`, author: { id: "u", name: "u" }, text, ts: n },
});

describe("batching claimed tasks", () => {
	it("puts one target's deliveries in one batch, in claim order", ({ expect }) => {
		const batches = batchTasks([task(1, "b"), task(2, "c"), task(3, "b"), task(4, "b", "retract"), task(5, "c")]);
		expect(batches.map((b) => b.tasks.map((t) => `${t.kind}:${t.targetRoom}:${t.dedupKey.slice(1)}`))).toEqual([
			["deliver:b:1", "deliver:b:3"],
			["deliver:c:2", "deliver:c:5"],
			["retract:b:4"],
		]);
	});

	it("splits a batch before it outgrows a queue message", ({ expect }) => {
		const big = "y".repeat(40_000);
		const batches = batchTasks([task(1, "b", "deliver", big), task(2, "b", "deliver", big), task(3, "b", "deliver", big)], 96 * 1024);
		expect(batches.map((b) => b.tasks.length)).toEqual([2, 1]);
		for (const b of batches) expect(JSON.stringify(b).length).toBeLessThan(128 * 1024);
	});
});

describe("a target going through the batch it is handed", () => {
	const ok = (t: TaskMessage) => ({ status: "ok" as const, seq: null, msgId: t.dedupKey, detail: "applied" });

	it("applies every task in order while each goes through", ({ expect }) => {
		const seen: string[] = [];
		const outcomes = applyInOrder([task(1, "b"), task(2, "b")], [false, false], (t) => {
			seen.push(t.dedupKey);
			return ok(t);
		});
		expect(seen).toEqual(["k1", "k2"]);
		expect(outcomes.map((o) => o.status)).toEqual(["ok", "ok"]);
	});

	it("refuses an injected fault without applying it, and defers what follows, so nothing overtakes it", ({ expect }) => {
		const seen: string[] = [];
		const faulted: string[] = [];
		const outcomes = applyInOrder(
			[task(1, "b"), task(2, "b"), task(3, "b")],
			[false, true, false],
			(t) => {
				seen.push(t.dedupKey);
				return ok(t);
			},
			(t) => faulted.push(t.dedupKey),
		);
		expect(seen).toEqual(["k1"]);
		expect(faulted).toEqual(["k2"]);
		expect(outcomes).toEqual([
			ok(task(1, "b")),
			{ status: "transient", code: "fault", message: "injected fault (FAULTS=on)" },
			{ status: "deferred", code: "deferred", message: "an earlier task of the batch did not go through" },
		]);
	});

	it("defers the rest after a refusal too", ({ expect }) => {
		const outcomes = applyInOrder([task(1, "b"), task(2, "b")], [false, false], () => ({
			status: "permanent",
			code: "read_only",
			message: "no",
		}));
		expect(outcomes.map((o) => o.status)).toEqual(["permanent", "deferred"]);
	});
});
