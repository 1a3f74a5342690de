/**
 * The pure rules behind the client edge: what a send may be, what a refusal means, the pace,
 * and that the server's frame budget covers every send the character limits allow.
 */
import { describe, expect, it } from "vitest";
import { AFTER_RESERVE_BYTES, checkSend, frameBytes, pacing, refusalKind, V1_LIMITS } from "../../client/send-rules.ts";
import { readConfig } from "../../src/config.ts";
import { DEFAULT_LIMITS, MAX_CLIENT_ID_CHARS, MAX_CROSS_POSTS, type SendFrame, sendFrameBudget, utf8Bytes } from "../../src/protocol.ts";

const send = (text: string, extra: Partial<SendFrame> = {}): SendFrame => ({ type: "send", id: "id-1", text, ...extra });

describe("checkSend", () => {
	it("lets a send at the character limit through and refuses one code point more with too_large", () => {
		expect(checkSend(send("😀".repeat(4000)), DEFAULT_LIMITS)).toBeUndefined();
		expect(checkSend(send("😀".repeat(4001)), DEFAULT_LIMITS)?.code).toBe("too_large");
	});

	it("refuses a frame over the byte limit even when the characters are within theirs", () => {
		const limits = { ...DEFAULT_LIMITS, maxFrameBytes: 1000 };
		expect(checkSend(send("\u0001".repeat(100)), limits)?.code).toBe("too_large");
		expect(checkSend(send("a".repeat(100)), limits)).toBeUndefined();
	});

	it("leaves room for the `after` it adds when writing", () => {
		const frame = send("a".repeat(500));
		const limits = { ...DEFAULT_LIMITS, maxFrameBytes: frameBytes(frame) + AFTER_RESERVE_BYTES - 1 };
		expect(checkSend(frame, limits)?.code).toBe("too_large");
		expect(checkSend({ ...frame, after: "x" }, limits)).toBeUndefined();
	});

	it("refuses blank text, white space only, and ids out of range, with bad_request and the id", () => {
		for (const text of ["", " ", "\n\t", "\u3000"])
			expect(checkSend(send(text), DEFAULT_LIMITS)).toMatchObject({ code: "bad_request", id: "id-1" });
		expect(checkSend(send("hi", { id: "" }), DEFAULT_LIMITS)?.code).toBe("bad_request");
		expect(checkSend(send("hi", { id: "x".repeat(MAX_CLIENT_ID_CHARS + 1) }), DEFAULT_LIMITS)?.code).toBe("bad_request");
	});
});

describe("the limits agree", () => {
	it("fits the worst send the character limits allow into the server's frame budget", () => {
		for (const chars of [1, 100, 4000, 100_000]) {
			const worst: SendFrame = {
				type: "send",
				id: "\u0001".repeat(MAX_CLIENT_ID_CHARS),
				text: "\u0001".repeat(chars),
				crossPost: Array.from({ length: MAX_CROSS_POSTS }, (_, i) => `${i}`.padEnd(64, "-")),
				after: "\ud800".repeat(MAX_CLIENT_ID_CHARS),
			};
			expect(utf8Bytes(JSON.stringify(worst))).toBeLessThanOrEqual(sendFrameBudget(chars));
			expect(checkSend({ ...worst, after: undefined }, readLimits(chars))).toBeUndefined();
		}
	});

	it("never lets MAX_FRAME_BYTES fall below the budget of MAX_MESSAGE_CHARS", () => {
		const config = readConfig({ MAX_FRAME_BYTES: "256", MAX_MESSAGE_CHARS: "4000" });
		expect(config.maxFrameBytes).toBe(sendFrameBudget(4000));
		expect(readConfig({}).maxFrameBytes).toBe(32_768);
	});
});

function readLimits(chars: number) {
	const config = readConfig({ MAX_MESSAGE_CHARS: String(chars) });
	return { ...V1_LIMITS, maxFrameBytes: config.maxFrameBytes, maxMessageChars: config.maxMessageChars };
}

describe("utf8Bytes", () => {
	it("counts like TextEncoder, lone surrogates as U+FFFD", () => {
		for (const text of ["", "abc", "é", "€", "😀", "\ud800", "a\udc00b", "mixed é€😀"]) {
			expect(utf8Bytes(text)).toBe(new TextEncoder().encode(text).byteLength);
		}
	});
});

describe("refusalKind", () => {
	it("retries rate limits and transient failures, reorders out_of_order, and gives up on the rest", () => {
		expect(refusalKind("rate_limited")).toBe("retry");
		expect(refusalKind("internal")).toBe("retry");
		expect(refusalKind("out_of_order")).toBe("reorder");
		for (const code of ["bad_request", "too_large", "forbidden", "banned", "read_only", "not_found", "conflict"]) {
			expect(refusalKind(code)).toBe("permanent");
		}
	});
});

describe("pacing", () => {
	it("keeps under the advertised rate and burst, and is off when the room has no limit", () => {
		expect(pacing({ ...DEFAULT_LIMITS, ratePerSec: 10, burst: 20 })).toEqual({ ratePerSec: 8, burst: 16 });
		expect(pacing({ ...DEFAULT_LIMITS, ratePerSec: 1, burst: 1 })).toEqual({ ratePerSec: 0.8, burst: 1 });
		expect(pacing({ ...DEFAULT_LIMITS, ratePerSec: 0, burst: 0 })).toEqual({ ratePerSec: 0, burst: 0 });
	});
});
