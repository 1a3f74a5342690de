import { describe, expect, it } from "vitest";
import { Backoff, backoffCap, backoffDelay, checkBackoffOptions } from "../../client/backoff.ts";

const options = { minMs: 100, maxMs: 1000, factor: 2 };

describe("backoff schedule", () => {
	it("grows the ceiling by the factor and stops at the maximum", () => {
		expect([0, 1, 2, 3, 4, 5, 50].map((attempt) => backoffCap(attempt, options))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
	});

	it("never overflows on a very long outage", () => {
		expect(backoffCap(100_000, { minMs: 500, maxMs: 30_000, factor: 10 })).toBe(30_000);
	});

	it("draws delays from the whole window [0, cap] (full jitter)", () => {
		expect(backoffDelay(3, options, () => 0)).toBe(0);
		expect(backoffDelay(3, options, () => 0.5)).toBe(400);
		expect(backoffDelay(3, options, () => 0.999999)).toBe(800);
	});

	it("hands out growing ceilings and starts over after reset", () => {
		const backoff = new Backoff(options, () => 0.999999);
		const steps = [backoff.next(), backoff.next(), backoff.next()];
		expect(steps.map((step) => step.attempt)).toEqual([0, 1, 2]);
		expect(steps.map((step) => step.capMs)).toEqual([100, 200, 400]);
		expect(steps.map((step) => step.delayMs)).toEqual([100, 200, 400]);
		expect(backoff.attempt).toBe(3);
		backoff.reset();
		expect(backoff.attempt).toBe(0);
		expect(backoff.next().capMs).toBe(100);
	});

	it("keeps every delay inside its window with a real random source", () => {
		const backoff = new Backoff(options);
		for (let i = 0; i < 200; i++) {
			const step = backoff.next();
			expect(step.delayMs).toBeGreaterThanOrEqual(0);
			expect(step.delayMs).toBeLessThanOrEqual(step.capMs);
		}
	});

	it("refuses options that make no schedule", () => {
		expect(() => checkBackoffOptions({ minMs: -1, maxMs: 10, factor: 2 })).toThrow(RangeError);
		expect(() => checkBackoffOptions({ minMs: 10, maxMs: 5, factor: 2 })).toThrow(RangeError);
		expect(() => checkBackoffOptions({ minMs: 10, maxMs: 50, factor: 0.5 })).toThrow(RangeError);
		expect(() => checkBackoffOptions({ minMs: Number.NaN, maxMs: 50, factor: 2 })).toThrow(RangeError);
	});
});
