/**
 * v1.3 reactions: who reacted with which emoji on which message, as a table keyed by
 * (message, emoji, user), with every change also an event in the room's log (so `since`
 * resume and history paging replay it). Synchronous: the room holds the transaction.
 */
import { type Failure, fail, ok, type Result } from "../src/errors.ts";
import {
	MAX_REACTIONS_PER_MESSAGE,
	policyRefusal,
	type ReactInput,
	type ReactionCount,
	type RoomEvent,
	type RoomPolicy,
	type SendResult,
	type UserRef,
} from "../src/protocol.ts";
import type { EventLog } from "./event-log.ts";
import { seqOfMessageId } from "../src/protocol.ts";

/** What a reaction did: the answer, and the event to broadcast (none for a duplicate or a refusal). */
export interface Reacted {
	result: Result<SendResult>;
	events: RoomEvent[];
}

/** Who is reacting, and what the room's policy says about them. */
export interface Reactor {
	user: UserRef;
	admin: boolean;
	policy: RoomPolicy;
}

export class Reactions {
	private readonly sql: SqlStorage;
	private readonly log: EventLog;

	constructor(sql: SqlStorage, log: EventLog) {
		this.sql = sql;
		this.log = log;
	}

	/**
	 * Adds or removes one emoji. In order: a repeat of a stored client id gets the original
	 * answer whatever changed since (so a lost ack is always recovered); then the policy (as for
	 * a send), `after`, the message (missing or retracted: `not_found`); then the state: adding
	 * one the user has, or removing one they have not, is `duplicate` and writes nothing; a new
	 * emoji beyond MAX_REACTIONS_PER_MESSAGE is `conflict`.
	 */
	react(who: Reactor, input: ReactInput, traceId: string, now: number): Reacted {
		const original = this.log.findEventByClientId(who.user.id, input.id);
		if (original !== undefined) return answered(original.seq, original.msgId, original.traceId, true);
		const refused = this.refusal(who, input);
		if (refused !== undefined) return { result: refused, events: [] };
		const target = this.log.findMessage(input.msgId);
		const msgSeq = seqOfMessageId(input.msgId);
		if (target === undefined || target.retractedBy !== null || msgSeq === undefined) {
			return { result: fail("not_found", `no message ${input.msgId} in this room`), events: [] };
		}
		const mine = this.sql
			.exec<{ seq: number }>(
				"SELECT seq FROM reactions WHERE msg_seq = ? AND emoji = ? AND user_id = ?",
				msgSeq,
				input.emoji,
				who.user.id,
			)
			.toArray()[0];
		if (input.remove === true) {
			// Nothing to remove: the state asked for already holds, as of the room's last event.
			if (mine === undefined) return answered(this.log.lastSeq, input.msgId, traceId, true);
			const event = this.append(who.user, input, "reaction.removed", traceId, now);
			this.sql.exec("DELETE FROM reactions WHERE msg_seq = ? AND emoji = ? AND user_id = ?", msgSeq, input.emoji, who.user.id);
			return answered(event.seq, input.msgId, traceId, false, event);
		}
		if (mine !== undefined) return answered(mine.seq, input.msgId, traceId, true);
		const set = this.sql
			.exec<{ n: number; has: number | null }>(
				"SELECT COUNT(DISTINCT emoji) AS n, MAX(emoji = ?) AS has FROM reactions WHERE msg_seq = ?",
				input.emoji,
				msgSeq,
			)
			.one();
		if (set.has !== 1 && set.n >= MAX_REACTIONS_PER_MESSAGE) {
			return {
				result: fail("conflict", `a message carries at most ${MAX_REACTIONS_PER_MESSAGE} different reactions`),
				events: [],
			};
		}
		const event = this.append(who.user, input, "reaction.added", traceId, now);
		this.sql.exec(
			"INSERT INTO reactions (msg_seq, emoji, user_id, seq) VALUES (?, ?, ?, ?)",
			msgSeq,
			input.emoji,
			who.user.id,
			event.seq,
		);
		return answered(event.seq, input.msgId, traceId, false, event);
	}

	/**
	 * Sets `reactions` on the live messages among `events` (a history page or a replay): each
	 * emoji's count and whether `readerId` is among them, emoji in code point order (the order
	 * a client can keep from the events alone, so a resumed view and a live one list them alike). One
	 * range read over the page's messages; messages without reactions carry none. The counts are
	 * the state now, so they already include the reaction events of the same page.
	 */
	attach(events: RoomEvent[], readerId: string): RoomEvent[] {
		const messages = new Map<number, { reactions?: ReactionCount[] }>();
		for (const event of events) if (event.type === "message" && event.retractedBy === undefined) messages.set(event.seq, event);
		if (messages.size === 0) return events;
		const seqs = [...messages.keys()];
		const rows = this.sql.exec<{ msg_seq: number; emoji: string; n: number; mine: number }>(
			"SELECT msg_seq, emoji, COUNT(*) AS n, MAX(user_id = ?) AS mine FROM reactions WHERE msg_seq BETWEEN ? AND ? GROUP BY msg_seq, emoji ORDER BY msg_seq, emoji",
			readerId,
			Math.min(...seqs),
			Math.max(...seqs),
		);
		for (const row of rows) {
			const message = messages.get(row.msg_seq);
			if (message === undefined) continue;
			message.reactions ??= [];
			message.reactions.push({ emoji: row.emoji, count: row.n, mine: row.mine === 1 });
		}
		return events;
	}

	private refusal(who: Reactor, input: ReactInput): Failure | undefined {
		const refused = policyRefusal(who.policy, who.user.id, who.admin);
		if (refused !== undefined) return fail(refused.code, refused.message);
		if (input.after !== undefined && this.log.findEventByClientId(who.user.id, input.after) === undefined) {
			return fail("out_of_order", `the frame before this one (${input.after}) is not stored yet; send it first`);
		}
		return undefined;
	}

	private append(user: UserRef, input: ReactInput, type: "reaction.added" | "reaction.removed", traceId: string, now: number) {
		const event = this.log.appendReaction({ type, msgId: input.msgId, emoji: input.emoji, user, clientId: input.id, traceId }, now);
		// The repeat check above found no event with this id, in this same transaction.
		if (event === undefined) throw new Error("the dedup index turned a reaction away, but holds no event for it");
		return event;
	}
}

function answered(seq: number, msgId: string, traceId: string, duplicate: boolean, event?: RoomEvent): Reacted {
	return { result: ok({ seq, msgId, traceId, duplicate }), events: event === undefined ? [] : [event] };
}
