import { describe, it } from "vitest";
import { parentFrom, traceIdFrom } from "../../src/trace.ts";

const CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("trace ids", () => {
	it("mints a fresh id whatever the traceparent says, never the caller's", ({ expect }) => {
		const first = traceIdFrom(CALLER);
		const second = traceIdFrom(CALLER);
		for (const id of [first, second]) {
			expect(id).toMatch(/^[0-9a-f]{32}$/);
			expect(id).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
		}
		expect(first).not.toBe(second);
	});

	it.for([null, undefined, "", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-XYZ-00f067aa0ba902b7-01"])(
		"makes a fresh one for %j",
		(header, { expect }) => {
			const id = traceIdFrom(header);
			expect(id).toMatch(/^[0-9a-f]{32}$/);
			expect(id).not.toBe("00000000000000000000000000000000");
		},
	);
});

describe("the caller's traceparent as a parent link", () => {
	it("keeps a valid one, normalised", ({ expect }) => {
		expect(parentFrom(CALLER)).toBe(CALLER);
		expect(parentFrom(`  ${CALLER.toUpperCase()} `)).toBe(CALLER);
	});

	it.for([
		null,
		undefined,
		"",
		"garbage",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		`${CALLER}-extra`,
	])("drops %j", (header, { expect }) => {
		expect(parentFrom(header)).toBeUndefined();
	});
});
