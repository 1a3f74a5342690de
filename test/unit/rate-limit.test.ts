import { describe, it } from "vitest";
import { fullBucket, recordRefusal, takeToken } from "../../src/rate-limit.ts";

describe("token bucket", () => {
	it("allows a burst of twice the rate, then refuses with a retry hint", ({ expect }) => {
		let bucket = fullBucket(10, 0);
		for (let i = 0; i < 20; i++) {
			const take = takeToken(bucket, 10, 0);
			expect(take.ok).toBe(true);
			bucket = take.bucket;
		}
		const refused = takeToken(bucket, 10, 0);
		expect(refused).toMatchObject({ ok: false, retryAfterMs: 100 });
	});

	it("refills at the rate and never above the burst", ({ expect }) => {
		const empty = { tokens: 0, at: 0 };
		expect(takeToken(empty, 10, 99).ok).toBe(false);
		expect(takeToken(empty, 10, 100).ok).toBe(true);
		const later = takeToken(empty, 10, 60_000);
		expect(later.ok && later.bucket.tokens).toBe(19);
	});

	it("is off at rate 0", ({ expect }) => {
		const bucket = { tokens: 0, at: 0 };
		expect(takeToken(bucket, 0, 0).ok).toBe(true);
	});
});

describe("abuse window", () => {
	it("closes after more than 50 refusals within 10 s", ({ expect }) => {
		let window = { count: 0, since: 0 };
		for (let i = 0; i < 50; i++) {
			const step = recordRefusal(window, i);
			expect(step.close).toBe(false);
			window = step.window;
		}
		expect(recordRefusal(window, 100).close).toBe(true);
	});

	it("starts over once the window has passed", ({ expect }) => {
		const step = recordRefusal({ count: 50, since: 0 }, 10_001);
		expect(step).toEqual({ window: { count: 1, since: 10_001 }, close: false });
	});
});
