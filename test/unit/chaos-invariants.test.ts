/**
 * The chaos suite's invariant checkers (chaos/lib/invariants.ts) fed deliberately broken
 * histories: each kind of breakage the suite exists to catch must be reported. A checker
 * that stays green here would make `npm run chaos` green on a broken server.
 */
import { describe, expect, it } from "vitest";
import {
	type AckRecord,
	checkAcked,
	checkAllAcked,
	checkCopyOrder,
	checkEmpty,
	checkErrorResponse,
	checkSagas,
	checkSeqs,
	percentile,
	type SagaOutcome,
	type SentMessage,
} from "../../chaos/lib/invariants.ts";
import type { MessageEvent, RetractEvent, RoomEvent } from "../../src/protocol.ts";

const msg = (seq: number, text: string, extra: Partial<MessageEvent> = {}): MessageEvent => ({
	type: "message",
	seq,
	msgId: `${seq}-000000000${seq % 10}`,
	author: { id: "ann", name: "Ann" },
	text,
	ts: seq,
	traceId: "t",
	...extra,
});
const retract = (seq: number, of: MessageEvent, reason: RetractEvent["reason"] = "compensated"): RetractEvent => ({
	type: "retract",
	seq,
	msgId: of.msgId,
	reason,
	ts: seq,
	traceId: "t",
});
const sent = (clientId: string, text: string, room = "a"): SentMessage => ({ room, authorId: "ann", clientId, text });
const ack = (clientId: string, event: MessageEvent, room = "a", duplicate = false): AckRecord => ({
	room,
	authorId: "ann",
	clientId,
	seq: event.seq,
	msgId: event.msgId,
	duplicate,
});

describe("checkSeqs", () => {
	it("accepts 1..n and reports a gap, a repeat and a wrong lastSeq", () => {
		const good = [msg(1, "x"), msg(2, "y")];
		expect(checkSeqs("a", good, 2)).toEqual([]);
		expect(checkSeqs("a", [msg(1, "x"), msg(3, "y")], 3).join()).toMatch(/gap: seqs 2..2 missing/);
		expect(checkSeqs("a", [msg(1, "x"), msg(1, "y")], 2).join()).toMatch(/repeat/);
		expect(checkSeqs("a", good, 5).join()).toMatch(/lastSeq 5/);
	});

	it("reports a retract of nothing and a retractedBy that points nowhere", () => {
		const m = msg(1, "x");
		expect(checkSeqs("a", [m, { ...retract(2, m), msgId: "9-0000000009" }], 2).length).toBeGreaterThan(0);
		expect(checkSeqs("a", [{ ...m, retractedBy: 5 }], 1).join()).toMatch(/retractedBy 5/);
	});
});

describe("checkAcked", () => {
	const one = msg(1, "hello");
	const two = msg(2, "world");
	const history = new Map<string, RoomEvent[]>([["a", [one, two]]]);
	const ledger = [sent("c1", "hello"), sent("c2", "world")];

	it("accepts every acked message at its seq", () => {
		expect(checkAcked(history, ledger, [ack("c1", one), ack("c2", two), ack("c2", two, "a", true)])).toEqual([]);
	});

	it("reports a lost acked message", () => {
		const lost = new Map<string, RoomEvent[]>([["a", [one]]]);
		expect(checkAcked(lost, ledger, [ack("c1", one), ack("c2", two)]).join()).toMatch(/c2.*lost/);
	});

	it("reports an acked message found at another seq", () => {
		const moved = new Map<string, RoomEvent[]>([["a", [msg(1, "world"), msg(2, "hello")]]]);
		expect(checkAcked(moved, ledger, [ack("c1", one), ack("c2", two)]).length).toBeGreaterThan(0);
	});

	it("reports a duplicate, and a resend acked at a different seq", () => {
		const doubled = new Map<string, RoomEvent[]>([["a", [one, two, msg(3, "hello")]]]);
		const violations = checkAcked(doubled, ledger, [ack("c1", one), ack("c2", two), ack("c1", msg(3, "hello"), "a", false)]);
		expect(violations.join()).toMatch(/appears 2 times/);
		expect(violations.join()).toMatch(/acked as seq 1 .* and again as seq 3/);
	});

	it("reports a phantom message that no client sent (an event from an invalid frame)", () => {
		const phantom = new Map<string, RoomEvent[]>([["a", [one, two, msg(3, "polluted")]]]);
		expect(checkAcked(phantom, ledger, [ack("c1", one), ack("c2", two)]).join()).toMatch(/phantom/);
		expect(checkAcked(phantom, ledger, [ack("c1", one), ack("c2", two)], (author) => author === "ann")).toEqual([]);
	});

	it("reports a message that was sent but never acked", () => {
		expect(checkAllAcked(ledger, [ack("c1", one)]).join()).toMatch(/c2 .* never acked/);
	});

	it("reports events in a room that only hostile traffic touched", () => {
		expect(checkEmpty("h", [], 0)).toEqual([]);
		expect(checkEmpty("h", [msg(1, "x")], 1).length).toBe(1);
	});
});

describe("checkSagas", () => {
	const original = msg(1, "hi");
	const copy = (seq: number, extra: Partial<MessageEvent> = {}): MessageEvent =>
		msg(seq, "hi", { msgId: `${seq}-00000000c${seq % 10}`, from: { room: "a", msgId: original.msgId, sagaId: "s1" }, ...extra });
	const saga = (state: SagaOutcome["state"], deleted = false): SagaOutcome => ({
		sagaId: "s1",
		originRoom: "a",
		msgId: original.msgId,
		state,
		targets: ["b"],
		deleted,
	});

	it("accepts a succeeded saga with one live copy and a compensated one with a retracted copy", () => {
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", [copy(1)]],
				]),
				[saga("succeeded")],
			),
		).toEqual([]);
		const c = copy(1, { retractedBy: 2 });
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", [c, retract(2, c)]],
				]),
				[saga("compensated")],
			),
		).toEqual([]);
	});

	it("reports two live copies, a missing copy and a live copy after compensation", () => {
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", [copy(1), copy(2)]],
				]),
				[saga("succeeded")],
			).join(),
		).toMatch(/2 copies in b/);
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", []],
				]),
				[saga("succeeded")],
			).join(),
		).toMatch(/0 live copies/);
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", [copy(1)]],
				]),
				[saga("compensated")],
			).join(),
		).toMatch(/live copy/);
	});

	it("reports a saga that ended failed or never ended, and a deleted original whose saga succeeded", () => {
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", []],
				]),
				[saga("failed")],
			).join(),
		).toMatch(/ended failed/);
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", []],
				]),
				[saga("running")],
			).join(),
		).toMatch(/ended running/);
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", [copy(1)]],
				]),
				[saga("succeeded", true)],
			).join(),
		).toMatch(/deleted/);
	});

	it("reports a copy in a room the saga did not target, and a copy retracted for the wrong reason", () => {
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", [copy(1)]],
					["c", [copy(1)]],
				]),
				[saga("succeeded")],
			).join(),
		).toMatch(/did not target/);
		const c = copy(1, { retractedBy: 2 });
		expect(
			checkSagas(
				new Map([
					["a", [original]],
					["b", [c, retract(2, c, "moderated")]],
				]),
				[saga("compensated")],
			).join(),
		).toMatch(/reason moderated/);
	});
});

describe("checkCopyOrder", () => {
	const copyOf = (seq: number, originSeq: number): MessageEvent =>
		msg(seq, "x", { from: { room: "a", msgId: `${originSeq}-0000000000`, sagaId: `s${originSeq}` } });

	it("accepts copies in origin order and reports a reordering", () => {
		expect(checkCopyOrder(new Map([["b", [copyOf(1, 2), msg(2, "local"), copyOf(3, 5)]]]))).toEqual([]);
		expect(checkCopyOrder(new Map([["b", [copyOf(1, 5), copyOf(2, 2)]]])).join()).toMatch(/came after/);
	});
});

describe("checkErrorResponse", () => {
	it("accepts the contract's error shape and reports the wrong status, a mismatched code, a 500 and a stack", () => {
		expect(checkErrorResponse("x", 401, { error: { code: "unauthorized", message: "no" } }, [401])).toEqual([]);
		expect(checkErrorResponse("x", 200, { ok: true }, [401]).join()).toMatch(/status 200/);
		expect(checkErrorResponse("x", 403, { error: { code: "unauthorized", message: "no" } }, [403]).join()).toMatch(/does not match/);
		expect(checkErrorResponse("x", 500, { error: { code: "internal", message: "x" } }, [400]).join()).toMatch(/status 500/);
		expect(
			checkErrorResponse(
				"x",
				400,
				{ error: { code: "bad_request", message: "Error\n    at parse (src/protocol.ts:10:5)" } },
				[400],
			).join(),
		).toMatch(/stack/);
		expect(checkErrorResponse("x", 400, "oops", [400]).join()).toMatch(/without an/);
	});
});

describe("percentile", () => {
	it("is the nearest-rank percentile", () => {
		expect(percentile([5, 1, 3, 2, 4], 0.5)).toBe(3);
		expect(
			percentile(
				Array.from({ length: 100 }, (_, i) => i + 1),
				0.99,
			),
		).toBe(99);
		expect(Number.isNaN(percentile([], 0.99))).toBe(true);
	});
});
