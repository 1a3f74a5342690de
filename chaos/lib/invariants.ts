/**
 * @module
 * The chaos suite's invariant checkers, as pure functions over what clients observed (sends,
 * acks) and what the server's HTTP history shows afterwards. Pure so that they can be unit
 * tested against deliberately corrupted histories (test/unit/chaos-invariants.test.ts): a
 * checker that cannot report a lost, doubled or reordered message proves nothing when green.
 * No Node or Workers APIs here: the same code runs in Node (the suite) and in workerd (tests).
 */
import type { MessageEvent, RoomEvent, SagaState } from "../../src/protocol.ts";

/** A message a client sent (or tried to), keyed by its room, author and client id. */
export interface SentMessage {
	room: string;
	authorId: string;
	clientId: string;
	/** Unique across a run, so a message can be found in history by its text alone. */
	text: string;
	crossPost?: string[];
}

/** What the server acked for one send (first ack, or the duplicate ack of a resend). */
export interface AckRecord {
	room: string;
	authorId: string;
	clientId: string;
	seq: number;
	msgId: string;
	sagaId?: string;
	duplicate: boolean;
}

const keyOf = (m: { room: string; authorId: string; clientId: string }): string => `${m.room}\u0000${m.authorId}\u0000${m.clientId}`;

function isOriginal(event: RoomEvent): event is MessageEvent {
	return event.type === "message" && event.from === undefined;
}

/**
 * Seqs are 1, 2, 3, ... with no gap and no repeat, and `lastSeq` is the last one.
 * Retract events point at an earlier message, and `retractedBy` points back at a retract.
 */
export function checkSeqs(room: string, events: readonly RoomEvent[], lastSeq: number): string[] {
	const violations: string[] = [];
	// One report per break in the sequence, not one per event after it.
	let previous = 0;
	for (const event of events) {
		if (event.seq !== previous + 1) {
			const what = event.seq > previous + 1 ? `gap: seqs ${previous + 1}..${event.seq - 1} missing` : "repeat or reorder";
			violations.push(`${room}: seq ${event.seq} follows seq ${previous} (${what})`);
		}
		previous = event.seq;
	}
	if (lastSeq !== events.length) violations.push(`${room}: lastSeq ${lastSeq} but ${events.length} events`);
	const bySeq = new Map(events.map((e) => [e.seq, e]));
	const messageSeq = new Map<string, number>();
	for (const event of events) {
		if (event.type === "message") {
			messageSeq.set(event.msgId, event.seq);
			if (event.retractedBy !== undefined) {
				const retract = bySeq.get(event.retractedBy);
				if (retract?.type !== "retract" || retract.msgId !== event.msgId) {
					violations.push(`${room}: ${event.msgId} says retractedBy ${event.retractedBy}, which is no retract of it`);
				}
			}
		} else {
			const target = messageSeq.get(event.msgId);
			if (target === undefined) violations.push(`${room}: retract seq ${event.seq} of ${event.msgId}, which is no earlier message`);
			else if ((bySeq.get(target) as MessageEvent | undefined)?.retractedBy === undefined) {
				violations.push(`${room}: retract seq ${event.seq} of ${event.msgId}, but the message shows no retractedBy`);
			}
		}
	}
	return violations;
}

/**
 * Every acked message is in its room exactly once, at its acked seq, with its text and
 * author; every ack of one (room, user, id) agrees; and no original message exists that no
 * client sent (an event made from an invalid or refused frame would show up here).
 */
export function checkAcked(
	histories: ReadonlyMap<string, readonly RoomEvent[]>,
	sent: readonly SentMessage[],
	acks: readonly AckRecord[],
	/** Authors whose messages are accounted for elsewhere (e.g. a flooder's, checked against its rate limit). */
	exempt: (authorId: string) => boolean = () => false,
): string[] {
	const violations: string[] = [];
	const sentByKey = new Map(sent.map((m) => [keyOf(m), m]));
	const sentByText = new Map(sent.map((m) => [`${m.room}\u0000${m.text}`, m]));
	const firstAck = new Map<string, AckRecord>();
	for (const ack of acks) {
		const key = keyOf(ack);
		const earlier = firstAck.get(key);
		if (earlier === undefined) firstAck.set(key, ack);
		else if (earlier.seq !== ack.seq || earlier.msgId !== ack.msgId) {
			violations.push(
				`${ack.room}: id ${ack.clientId} acked as seq ${earlier.seq} (${earlier.msgId}) and again as seq ${ack.seq} (${ack.msgId})`,
			);
		}
	}
	for (const [key, ack] of firstAck) {
		const message = sentByKey.get(key);
		const events = histories.get(ack.room);
		if (message === undefined || events === undefined) {
			violations.push(`${ack.room}: ack for id ${ack.clientId} that no client sent, or room history missing`);
			continue;
		}
		const at = events[ack.seq - 1];
		if (at === undefined || at.seq !== ack.seq || at.type !== "message" || at.msgId !== ack.msgId) {
			violations.push(`${ack.room}: acked id ${ack.clientId} (seq ${ack.seq}, ${ack.msgId}) is not at its seq: lost`);
		} else if (at.text !== message.text && at.retractedBy === undefined) {
			violations.push(`${ack.room}: seq ${ack.seq} holds other text than id ${ack.clientId} sent`);
		} else if (at.author.id !== message.authorId) {
			violations.push(`${ack.room}: seq ${ack.seq} has author ${at.author.id}, not ${message.authorId}`);
		}
	}
	const ackByMsgId = new Map([...firstAck.values()].map((a) => [`${a.room}\u0000${a.msgId}`, a]));
	for (const [room, events] of histories) {
		const copiesOfText = new Map<string, number>();
		for (const event of events) {
			if (!isOriginal(event) || exempt(event.author.id)) continue;
			// A retracted message keeps its msgId but loses its text; match it by msgId then.
			const ackFor = event.retractedBy === undefined ? undefined : ackByMsgId.get(`${room}\u0000${event.msgId}`);
			const text = ackFor === undefined ? event.text : (sentByKey.get(keyOf(ackFor))?.text ?? event.text);
			copiesOfText.set(text, (copiesOfText.get(text) ?? 0) + 1);
			if (!sentByText.has(`${room}\u0000${text}`)) {
				violations.push(`${room}: seq ${event.seq} (${event.msgId}) is a message no client sent (phantom)`);
			}
		}
		for (const [text, count] of copiesOfText) {
			if (count > 1) violations.push(`${room}: message "${text.slice(0, 40)}" appears ${count} times (duplicate)`);
		}
	}
	return violations;
}

/** Every sent message was acked by the end (clients resend until they are). */
export function checkAllAcked(sent: readonly SentMessage[], acks: readonly AckRecord[]): string[] {
	const acked = new Set(acks.map(keyOf));
	return sent.filter((m) => !acked.has(keyOf(m))).map((m) => `${m.room}: id ${m.clientId} by ${m.authorId} was never acked`);
}

/** A saga at its end, as the admin API reports it. */
export interface SagaOutcome {
	sagaId: string;
	originRoom: string;
	msgId: string;
	state: SagaState;
	targets: readonly string[];
	/** The original was deleted by its author (its copies are retracted with reason `deleted`). */
	deleted?: boolean;
}

/**
 * A saga ends `succeeded` with exactly one live copy in each target, or `compensated` with
 * none; no copy ever appears twice in a room or in a room it did not target; a copy carries
 * its original's text; and a retracted copy was retracted for the saga's reason.
 */
export function checkSagas(histories: ReadonlyMap<string, readonly RoomEvent[]>, sagas: readonly SagaOutcome[]): string[] {
	const violations: string[] = [];
	const copies = new Map<string, Array<{ room: string; event: MessageEvent }>>();
	for (const [room, events] of histories) {
		for (const event of events) {
			if (event.type !== "message" || event.from === undefined) continue;
			const list = copies.get(event.from.sagaId) ?? [];
			list.push({ room, event });
			copies.set(event.from.sagaId, list);
		}
	}
	for (const saga of sagas) {
		const found = copies.get(saga.sagaId) ?? [];
		copies.delete(saga.sagaId);
		if (saga.state !== "succeeded" && saga.state !== "compensated") {
			violations.push(`saga ${saga.sagaId} ended ${saga.state}, not succeeded or compensated`);
			continue;
		}
		if (saga.deleted === true && saga.state !== "compensated") {
			violations.push(`saga ${saga.sagaId}: its original was deleted, yet it ended ${saga.state}`);
		}
		const original = histories.get(saga.originRoom)?.find((e) => e.type === "message" && e.msgId === saga.msgId);
		for (const target of saga.targets) {
			const here = found.filter((c) => c.room === target);
			const live = here.filter((c) => c.event.retractedBy === undefined);
			if (here.length > 1) violations.push(`saga ${saga.sagaId}: ${here.length} copies in ${target}`);
			if (saga.state === "succeeded" && live.length !== 1)
				violations.push(`saga ${saga.sagaId} succeeded with ${live.length} live copies in ${target}`);
			if (saga.state === "compensated" && live.length !== 0)
				violations.push(`saga ${saga.sagaId} compensated but ${target} shows a live copy`);
			for (const copy of here) {
				if (copy.event.from?.room !== saga.originRoom || copy.event.from.msgId !== saga.msgId) {
					violations.push(`saga ${saga.sagaId}: copy in ${target} names origin ${JSON.stringify(copy.event.from)}`);
				}
				if (
					copy.event.retractedBy === undefined &&
					original?.type === "message" &&
					original.retractedBy === undefined &&
					copy.event.text !== original.text
				) {
					violations.push(`saga ${saga.sagaId}: copy in ${target} has other text than its original`);
				}
				if (copy.event.retractedBy !== undefined) {
					const retract = histories.get(target)?.[copy.event.retractedBy - 1];
					const allowed = saga.deleted === true ? ["deleted", "compensated"] : ["compensated"];
					if (retract?.type !== "retract" || !allowed.includes(retract.reason)) {
						violations.push(
							`saga ${saga.sagaId}: copy in ${target} retracted with reason ${retract?.type === "retract" ? retract.reason : "?"}, expected ${allowed.join(" or ")}`,
						);
					}
				}
			}
		}
		for (const copy of found.filter((c) => !saga.targets.includes(c.room))) {
			violations.push(`saga ${saga.sagaId}: a copy in ${copy.room}, which it did not target`);
		}
	}
	return violations;
}

/**
 * Copies from one origin room appear in each target room in the order of their originals'
 * seqs (the outbox holds a delivery until the earlier one to the same target is done).
 */
export function checkCopyOrder(histories: ReadonlyMap<string, readonly RoomEvent[]>): string[] {
	const violations: string[] = [];
	for (const [room, events] of histories) {
		const lastOriginSeq = new Map<string, { seq: number; msgId: string }>();
		for (const event of events) {
			if (event.type !== "message" || event.from === undefined) continue;
			const originSeq = seqOfMsgId(event.from.msgId);
			if (originSeq === undefined) {
				violations.push(`${room}: copy seq ${event.seq} names an unparsable origin msgId ${event.from.msgId}`);
				continue;
			}
			const previous = lastOriginSeq.get(event.from.room);
			if (previous !== undefined && originSeq <= previous.seq) {
				violations.push(
					`${room}: copy of ${event.from.room}#${originSeq} (seq ${event.seq}) came after the copy of ${event.from.room}#${previous.seq}`,
				);
			}
			lastOriginSeq.set(event.from.room, { seq: originSeq, msgId: event.from.msgId });
		}
	}
	return violations;
}

/** Message ids are `<seq>-<random>` (objects/event-log.ts); the origin seq orders copies. */
export function seqOfMsgId(msgId: string): number | undefined {
	const match = /^([1-9][0-9]*)-/.exec(msgId);
	return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** The rooms that must hold nothing at all (hostile traffic only): no event was made. */
export function checkEmpty(room: string, events: readonly RoomEvent[], lastSeq: number): string[] {
	return events.length === 0 && lastSeq === 0 ? [] : [`${room}: ${events.length} events (lastSeq ${lastSeq}) from hostile traffic alone`];
}

/** Nearest-rank percentile of a sample, in the sample's unit; NaN for an empty one. */
export function percentile(sample: readonly number[], q: number): number {
	if (sample.length === 0) return Number.NaN;
	const sorted = [...sample].sort((a, b) => a - b);
	const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
	return sorted[rank - 1] ?? Number.NaN;
}

/**
 * The contract's status for each HTTP error code, written out from PROTOCOL.md on purpose:
 * the suite checks the server against the contract, not against the server's own table.
 */
export const STATUS_OF: Readonly<Record<string, number>> = {
	bad_request: 400,
	unauthorized: 401,
	forbidden: 403,
	not_found: 404,
	conflict: 409,
	too_large: 413,
	rate_limited: 429,
	read_only: 403,
	banned: 403,
	internal: 500,
};

/**
 * A non-2xx answer is `{"error":{"code","message"}}` with a contract code whose status it is,
 * never a 500 and never a stack trace; `expected` lists the statuses this probe may get.
 */
export function checkErrorResponse(label: string, status: number, body: unknown, expected: readonly number[]): string[] {
	const violations: string[] = [];
	if (!expected.includes(status)) violations.push(`${label}: status ${status}, expected ${expected.join("/")}`);
	if (status < 400) return violations;
	const error = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined;
	if (typeof error !== "object" || error === null) return [...violations, `${label}: status ${status} without an {"error":{...}} body`];
	const { code, message } = error as { code?: unknown; message?: unknown };
	if (typeof code !== "string" || STATUS_OF[code] !== status)
		violations.push(`${label}: code ${String(code)} does not match status ${status}`);
	if (typeof message !== "string") violations.push(`${label}: error without a message`);
	else if (/\n\s+at |\.ts:\d+/.test(message)) violations.push(`${label}: error message leaks a stack trace`);
	return violations;
}
