import { describe, it } from "vitest";
import { traceIdFrom } from "../../src/trace.ts";

describe("trace ids", () => {
	it("takes the trace id from a valid traceparent", ({ expect }) => {
		expect(traceIdFrom("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
	});

	it.for([null, "", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-XYZ-00f067aa0ba902b7-01"])(
		"makes a fresh one for %j",
		(header, { expect }) => {
			const id = traceIdFrom(header);
			expect(id).toMatch(/^[0-9a-f]{32}$/);
			expect(id).not.toBe("00000000000000000000000000000000");
		},
	);
});
