import { describe, it } from "vitest";
import { recordRefusal, UserBuckets } from "../../src/rate-limit.ts";
import { fullBucket, takeToken } from "../../src/token-bucket.ts";

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

describe("per-user buckets", () => {
	it("give each user one burst, whoever else is sending", ({ expect }) => {
		const buckets = new UserBuckets(10);
		const taken = (user: string): number => Array.from({ length: 30 }, () => buckets.take(user, 0).ok).filter(Boolean).length;
		expect(taken("a")).toBe(20);
		expect(taken("b")).toBe(20);
		expect(buckets.take("a", 0)).toMatchObject({ ok: false, retryAfterMs: 100 });
		expect(buckets.take("a", 100).ok).toBe(true);
	});

	it("forget buckets that have refilled once they track too many users, and none that have not", ({ expect }) => {
		const buckets = new UserBuckets(10, 2);
		buckets.take("old", 0);
		buckets.take("recent", 1900);
		buckets.take("new", 2000);
		expect(buckets.size).toBe(2);
		for (let i = 0; i < 20; i++) buckets.take("recent", 2000);
		expect(buckets.take("recent", 2000).ok).toBe(false);
	});

	it("take a cost all or nothing, and say when it will be there", ({ expect }) => {
		const buckets = new UserBuckets(10);
		for (let i = 0; i < 4; i++) expect(buckets.take("a", 0, 5).ok).toBe(true);
		expect(buckets.take("a", 0, 5)).toEqual({ ok: false, retryAfterMs: 500 });
		expect(buckets.take("a", 0, 1).ok).toBe(false);
		expect(buckets.take("a", 500, 5).ok).toBe(true);
	});

	it("never refuse when the limit is off", ({ expect }) => {
		const buckets = new UserBuckets(0);
		for (let i = 0; i < 1000; i++) expect(buckets.take("a", 0).ok).toBe(true);
		expect(buckets.size).toBe(0);
	});
});
