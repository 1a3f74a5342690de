import { describe, it } from "vitest";
import { batchTasks } from "../../src/saga/batches.ts";
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
