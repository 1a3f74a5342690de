import { describe, expect, it } from "vitest";
import { refusedState } from "../../client/live-socket.ts";

describe("the connection loop's refusals", () => {
	it("stops for good on refused credentials (401), access (403) or requests (400)", () => {
		expect([401, 403, 400].map(refusedState)).toEqual(["unauthorized", "forbidden", "rejected"]);
	});

	it("leaves everything else to the backoff: a server down, busy or failing, or no answer at all", () => {
		expect([404, 408, 429, 500, 502, 503, undefined].map(refusedState)).toEqual(Array(7).fill(undefined));
	});
});
