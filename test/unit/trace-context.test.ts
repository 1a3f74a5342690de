import { describe, it } from "vitest";
import {
	childTraceparent,
	formatTraceparent,
	ingressContext,
	parseTraceparent,
	spanIdFor,
	traceparentOf,
	tracestateFrom,
} from "../../src/trace.ts";
import { withConsumerSpan } from "../../src/queue.ts";
import type { TaskMessage } from "../../src/saga/types.ts";

const CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("W3C trace context", () => {
	it("keeps the caller's traceparent as the parent, under a trace id of the server's own", ({ expect }) => {
		const context = ingressContext(CALLER, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
		expect(context.parent).toBe(CALLER);
		expect(context.traceId).toMatch(/^[0-9a-f]{32}$/);
		expect(context.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
		expect(context.tracestate).toBe("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
		expect(traceparentOf(context)).toBe(`00-${context.traceId}-${context.spanId}-01`);
	});

	it("honours the caller's sampling flag and starts sampled without one", ({ expect }) => {
		expect(ingressContext(CALLER.replace(/01$/, "00"), null).sampled).toBe(false);
		expect(ingressContext(null, null)).toMatchObject({ sampled: true });
		expect(ingressContext("garbage", "not a tracestate")).not.toHaveProperty("parent");
	});

	it.for([
		["a=1", "a=1"],
		[" a=1 , b@vendor=x y ", "a=1,b@vendor=x y"],
		["A=1", undefined],
		["a=1,a=2", undefined],
		["a=", undefined],
		["=1", undefined],
		[Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(","), undefined],
		[`a=${"x".repeat(600)}`, undefined],
	] as const)("reads tracestate %j as %j", ([header, expected], { expect }) => {
		expect(tracestateFrom(header)).toBe(expected);
	});

	it("parses and formats traceparent, with derived span ids that are stable and never zero", ({ expect }) => {
		expect(parseTraceparent(CALLER)).toEqual({
			traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
			spanId: "00f067aa0ba902b7",
			sampled: true,
		});
		expect(parseTraceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toBeUndefined();
		expect(spanIdFor("t#1")).toBe(spanIdFor("t#1"));
		expect(spanIdFor("t#1")).not.toBe(spanIdFor("t#2"));
		expect(spanIdFor("x")).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
		expect(formatTraceparent("a".repeat(32), "b".repeat(16), false)).toBe(`00-${"a".repeat(32)}-${"b".repeat(16)}-00`);
	});

	it("makes child hops that keep the trace and flags but not the span", ({ expect }) => {
		const received = formatTraceparent("c".repeat(32), "1".repeat(16), false);
		expect(childTraceparent(received, "c".repeat(32), "2".repeat(16))).toBe(`00-${"c".repeat(32)}-${"2".repeat(16)}-00`);
		// A context for another trace (or none) is not followed: the task's own trace is.
		expect(childTraceparent(received, "d".repeat(32), "2".repeat(16))).toBe(`00-${"d".repeat(32)}-${"2".repeat(16)}-01`);
		expect(childTraceparent(undefined, "d".repeat(32), "3".repeat(16))).toBe(`00-${"d".repeat(32)}-${"3".repeat(16)}-01`);
	});

	it("gives every task of a consumer round the consumer's span as the parent", ({ expect }) => {
		const task = (traceId: string, attempt: number): TaskMessage => ({
			taskId: `o~aaaaaaaaaaaa.d.t${attempt}`,
			sagaId: "o~aaaaaaaaaaaa",
			kind: "deliver",
			origin: { kind: "room", id: "o" },
			targetRoom: "t",
			dedupKey: "k",
			traceId,
			attempt,
			payload: { msgId: "1-aaaaaaaaaa", author: { id: "a", name: "A" }, text: "", ts: 0 },
			traceparent: formatTraceparent(traceId, spanIdFor(`o#${attempt}`)),
		});
		const out = withConsumerSpan([task("e".repeat(32), 1), task("f".repeat(32), 2)], "9".repeat(16));
		expect(out.map((t) => t.traceparent)).toEqual([
			`00-${"e".repeat(32)}-${"9".repeat(16)}-01`,
			`00-${"f".repeat(32)}-${"9".repeat(16)}-01`,
		]);
	});
});
