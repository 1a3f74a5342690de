/**
 * @module
 * The rules a send is held to before it leaves the client, and what a refusal means for it.
 * Pure functions, so each rule is unit-tested on its own; the client only wires them up.
 */
import type { ErrorCode } from "../src/errors.ts";
import type { RoomLimits, WelcomeFrame } from "../src/protocol.ts";
import { codePointLength, hasLoneSurrogate, isReactionEmoji, MAX_CLIENT_ID_CHARS, MAX_MSG_ID_CHARS, utf8Bytes } from "../src/protocol.ts";
import { ParleyClientError } from "./errors.ts";
import type { OutFrame } from "./pending.ts";

/** What a server that predates `welcome.limits` enforces (the v1 contract's defaults). */
export const V1_LIMITS: RoomLimits = { maxFrameBytes: 16_384, maxMessageChars: 4000, ratePerSec: 10, burst: 20 };

/** Room for the `after` field the client adds when it writes the frame: `,"after":"…"` with an id escaped at 6 bytes a char. */
export const AFTER_RESERVE_BYTES = 11 + MAX_CLIENT_ID_CHARS * 6;

/** The limits a welcome announces, or the v1 contract's when the server does not say. */
export function limitsFromWelcome(welcome: WelcomeFrame): RoomLimits {
	return welcome.limits ?? V1_LIMITS;
}

/** The bytes a frame takes on the wire, `after` included when given. */
export function frameBytes(frame: OutFrame): number {
	return utf8Bytes(JSON.stringify(frame));
}

/**
 * Whether `emoji` is a reaction the contract allows: exactly one emoji grapheme (with its skin
 * tone, joiners and variation selectors; a flag; a keycap) or a short `:name:`. The server's own
 * rule (`isReactionEmoji`, src/emoji.ts), so the client refuses exactly what the room would.
 */
export function isReaction(emoji: string): boolean {
	return isReactionEmoji(emoji);
}

/**
 * Why the server would refuse this frame (a send, an edit or a reaction) for good, or undefined
 * when it may go. Checked before it is queued, and again before each write (limits can change
 * with a new welcome), so no frame over the limit is ever written: the server would close the
 * socket with 1009, and a client resending it would loop.
 */
export function checkOutgoing(frame: OutFrame, limits: RoomLimits): ParleyClientError | undefined {
	const { id } = frame;
	if (id.length < 1 || codePointLength(id) > MAX_CLIENT_ID_CHARS) {
		return new ParleyClientError("bad_request", `an id is 1..${MAX_CLIENT_ID_CHARS} chars`, { id });
	}
	if (frame.type !== "send" && (frame.msgId.length < 1 || frame.msgId.length > MAX_MSG_ID_CHARS || hasLoneSurrogate(frame.msgId))) {
		return new ParleyClientError("bad_request", `a message id is 1..${MAX_MSG_ID_CHARS} chars`, { id });
	}
	if (frame.type === "send" && frame.replyTo !== undefined) {
		const { replyTo } = frame;
		if (replyTo.length < 1 || replyTo.length > MAX_MSG_ID_CHARS || hasLoneSurrogate(replyTo)) {
			return new ParleyClientError("bad_request", `\`replyTo\` is a message id of 1..${MAX_MSG_ID_CHARS} chars`, { id });
		}
	}
	if (frame.type === "react") {
		if (!isReaction(frame.emoji)) {
			return new ParleyClientError("bad_request", "a reaction is one emoji or a :name: (letters, digits, _ + -)", { id });
		}
		if (hasLoneSurrogate(id)) return new ParleyClientError("bad_request", "the id is not valid Unicode (a lone surrogate)", { id });
		return checkBytes(frame, limits);
	}
	const { text } = frame;
	const chars = codePointLength(text);
	if (chars === 0) return new ParleyClientError("bad_request", "a message needs some text", { id });
	if (chars > limits.maxMessageChars) {
		return new ParleyClientError("too_large", `the message is ${chars} characters; the limit is ${limits.maxMessageChars}`, { id });
	}
	if (text.trim() === "") return new ParleyClientError("bad_request", "a message needs some text, not only white space", { id });
	if (hasLoneSurrogate(text) || hasLoneSurrogate(id))
		return new ParleyClientError("bad_request", "the message is not valid Unicode (a lone surrogate)", { id });
	return checkBytes(frame, limits);
}

/** The frame limit, with room kept for the `after` the client adds when it writes the frame. */
function checkBytes(frame: OutFrame, limits: RoomLimits): ParleyClientError | undefined {
	const bytes = utf8Bytes(JSON.stringify(frame)) + (frame.after === undefined ? AFTER_RESERVE_BYTES : 0);
	if (bytes > limits.maxFrameBytes) {
		return new ParleyClientError(
			"too_large",
			`the ${frame.type === "send" ? "message" : frame.type} takes ${bytes} bytes on the wire; the limit is ${limits.maxFrameBytes}`,
			{
				id: frame.id,
			},
		);
	}
	return undefined;
}

/** `checkOutgoing` for a send (kept by name: the send rules predate edits and reactions). */
export const checkSend: (frame: OutFrame, limits: RoomLimits) => ParleyClientError | undefined = checkOutgoing;

/**
 * What a refusal of a written send means:
 * - `retry`: not the send's fault (rate limit, a transient server failure); write it again later;
 * - `reorder`: an earlier send was not stored first; write it again behind that one;
 * - `permanent`: the server will never take it (bad input, too large, no access, read-only,
 *   banned, ...): reject it and drop it from the queue.
 */
export type RefusalKind = "retry" | "reorder" | "permanent";

export function refusalKind(code: ErrorCode | string): RefusalKind {
	switch (code) {
		case "rate_limited":
		case "internal":
			return "retry";
		case "out_of_order":
			return "reorder";
		default:
			return "permanent";
	}
}

/** How often a send refused as `internal` is written again before it is given up on. */
export const MAX_INTERNAL_RETRIES = 5;

/**
 * The pace the client writes at: a little under the advertised rate and burst, so network
 * jitter that bunches frames up never takes the server's bucket below one token.
 */
export function pacing(limits: RoomLimits): { ratePerSec: number; burst: number } {
	if (limits.ratePerSec <= 0) return { ratePerSec: 0, burst: 0 };
	return { ratePerSec: limits.ratePerSec * 0.8, burst: Math.max(1, Math.floor(limits.burst * 0.8)) };
}
