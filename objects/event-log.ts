/**
 * The room's event log in SQLite: appending messages and retracts with gap-free seqs,
 * dedup lookups, paging, and the dedup-window prune. Synchronous on purpose: callers wrap
 * multi-statement writes in `transactionSync`, and nothing here awaits.
 */
import type {
	CopyOrigin,
	EventsQuery,
	MessageEditedEvent,
	MessageEvent,
	ReactionEvent,
	ReplyRef,
	RetractEvent,
	RetractReason,
	RoomEvent,
	UserRef,
} from "../src/protocol.ts";
import { seqOfMessageId } from "../src/protocol.ts";
import { markRemovedReplies, scrubEdits } from "./edits.ts";

/** How long a (user, client id) pair is remembered; the contract asks for at least 24 h. */
export const DEDUP_WINDOW_MS = 25 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 10 * 60 * 1000;
const PRUNE_BATCH = 1000;

interface EventRow extends Record<string, SqlStorageValue> {
	seq: number;
	kind: string;
	msg_id: string;
	author_id: string | null;
	author_name: string | null;
	text: string | null;
	reason: string | null;
	ts: number;
	trace_id: string;
	origin: string | null;
	saga_id: string | null;
	retracted_by: number | null;
	reply_to: string | null;
	mentions: string | null;
	edit_seq: number | null;
	edited_at: number | null;
}

/** A stored message with the fields the room's rules need beyond the wire event. */
export interface StoredMessage {
	event: MessageEvent;
	sagaId: string | null;
	retractedBy: number | null;
}

export interface NewMessage {
	author: UserRef;
	clientId: string | null;
	text: string;
	traceId: string;
	origin?: CopyOrigin;
	sagaId?: string;
	/** v1.3: the snapshot of the message this one answers. */
	replyTo?: ReplyRef;
	/** v1.3: the users the text mentions (omitted when none). */
	mentions?: string[];
	/** v1.3, for a cross-posted copy made after its original was edited: that edit's seq (objects/barrier.ts). */
	fromEditSeq?: number;
}

const COLUMNS =
	"seq, kind, msg_id, author_id, author_name, text, reason, ts, trace_id, origin, saga_id, retracted_by, reply_to, mentions, edit_seq, edited_at";

function toEvent(row: EventRow): RoomEvent {
	if (row.kind === "edit") {
		const edited: MessageEditedEvent = {
			type: "message.edited",
			seq: row.seq,
			msgId: row.msg_id,
			text: row.text ?? "",
			editedAt: row.ts,
			ts: row.ts,
			traceId: row.trace_id,
		};
		if (row.mentions !== null) edited.mentions = JSON.parse(row.mentions) as string[];
		return edited;
	}
	if (row.kind === "reaction.added" || row.kind === "reaction.removed") return toReactionEvent(row);
	if (row.kind === "retract") {
		return {
			type: "retract",
			seq: row.seq,
			msgId: row.msg_id,
			reason: row.reason as RetractReason,
			ts: row.ts,
			traceId: row.trace_id,
		};
	}
	const event: MessageEvent = {
		type: "message",
		seq: row.seq,
		msgId: row.msg_id,
		author: { id: row.author_id ?? "", name: row.author_name ?? "" },
		text: row.text ?? "",
		ts: row.ts,
		traceId: row.trace_id,
	};
	if (row.origin !== null) event.from = JSON.parse(row.origin) as CopyOrigin;
	if (row.retracted_by !== null) event.retractedBy = row.retracted_by;
	if (row.reply_to !== null) event.replyTo = JSON.parse(row.reply_to) as ReplyRef;
	if (row.mentions !== null) event.mentions = JSON.parse(row.mentions) as string[];
	if (row.edit_seq !== null) event.editSeq = row.edit_seq;
	if (row.edited_at !== null) event.editedAt = row.edited_at;
	return event;
}

/** v1.3: a reaction row uses the message columns (see migrations/0007_reactions_reads.sql). */
function toReactionEvent(row: EventRow): ReactionEvent {
	return {
		type: row.kind === "reaction.added" ? "reaction.added" : "reaction.removed",
		seq: row.seq,
		msgId: row.msg_id,
		emoji: row.text ?? "",
		user: { id: row.author_id ?? "", name: row.author_name ?? "" },
		ts: row.ts,
		traceId: row.trace_id,
	};
}

/** Message ids carry their seq, so a lookup by id is a primary-key read with no extra index. */
export function messageIdFor(seq: number): string {
	// Ten random hex digits from one native UUID: its first group, and the first two of the second.
	const uuid = crypto.randomUUID();
	return `${seq}-${uuid.slice(0, 8)}${uuid.slice(9, 11)}`;
}

export class EventLog {
	private readonly sql: SqlStorage;
	private last: number;
	private lastTs: number;
	private lastPruneCheck = 0;

	constructor(sql: SqlStorage) {
		this.sql = sql;
		const row = sql
			.exec<{ seq: number | null; ts: number | null }>("SELECT seq, ts FROM events ORDER BY seq DESC LIMIT 1")
			.toArray()[0];
		this.last = row?.seq ?? 0;
		this.lastTs = row?.ts ?? 0;
	}

	get lastSeq(): number {
		return this.last;
	}

	/** Event timestamps never go backwards, even if the clock does across restarts. */
	private stamp(now: number): number {
		this.lastTs = Math.max(now, this.lastTs);
		return this.lastTs;
	}

	/** The seq the next event gets (for event kinds appended outside this class, objects/edits.ts). */
	nextSeq(): number {
		return this.last + 1;
	}

	/** The timestamp an event appended now gets (never earlier than the last one). */
	stampAt(now: number): number {
		return this.stamp(now);
	}

	/** Records that an event with this seq (nextSeq()) was written. */
	advanceTo(seq: number): void {
		if (seq !== this.last + 1) throw new Error(`event ${seq} would leave a gap after ${this.last}`);
		this.last = seq;
	}

	/** Called inside a retract's transaction with the retracted message's seq (search drops it). */
	onRetracted: ((seq: number) => void) | undefined;

	findByClientId(authorId: string, clientId: string): StoredMessage | undefined {
		const row = this.sql
			.exec<EventRow>(`SELECT ${COLUMNS} FROM events WHERE author_id = ? AND client_id = ?`, authorId, clientId)
			.toArray()[0];
		return row === undefined ? undefined : this.stored(row);
	}

	findMessage(msgId: string): StoredMessage | undefined {
		const seq = seqOfMessageId(msgId);
		if (seq === undefined) return undefined;
		const row = this.sql.exec<EventRow>(`SELECT ${COLUMNS} FROM events WHERE seq = ?`, seq).toArray()[0];
		if (row === undefined || row.kind !== "message" || row.msg_id !== msgId) return undefined;
		return this.stored(row);
	}

	/**
	 * v1.4: the newest live message, for an inbox's preview. Walks the primary key down from the
	 * end, so it reads only as many rows as there are newer edits, reactions and retracts.
	 */
	lastLiveMessage(): MessageEvent | undefined {
		const row = this.sql
			.exec<EventRow>(`SELECT ${COLUMNS} FROM events WHERE kind = 'message' AND retracted_by IS NULL ORDER BY seq DESC LIMIT 1`)
			.toArray()[0];
		return row === undefined ? undefined : (toEvent(row) as MessageEvent);
	}

	private stored(row: EventRow): StoredMessage {
		return { event: toEvent(row) as MessageEvent, sagaId: row.saga_id, retractedBy: row.retracted_by };
	}

	/**
	 * Appends a message; the caller holds the transaction when more rows must commit with it.
	 * With `ifNew`, a message whose (author, client id) is already stored is not written and
	 * `undefined` comes back: the unique index is the dedup check, so a new message needs no lookup.
	 */
	appendMessage(message: NewMessage, now: number): MessageEvent;
	appendMessage(message: NewMessage, now: number, options: { ifNew: true }): MessageEvent | undefined;
	appendMessage(message: NewMessage, now: number, options?: { ifNew: true }): MessageEvent | undefined {
		const seq = this.last + 1;
		const event: MessageEvent = {
			type: "message",
			seq,
			msgId: messageIdFor(seq),
			author: message.author,
			text: message.text,
			ts: this.stamp(now),
			traceId: message.traceId,
		};
		if (message.origin !== undefined) event.from = message.origin;
		if (message.replyTo !== undefined) event.replyTo = message.replyTo;
		if (message.mentions !== undefined && message.mentions.length > 0) event.mentions = message.mentions;
		const inserted = this.sql.exec(
			`INSERT INTO events (seq, kind, msg_id, author_id, author_name, client_id, text, ts, trace_id, origin, saga_id, reply_to, mentions, from_edit_seq) VALUES (?, 'message', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)${options?.ifNew === true ? " ON CONFLICT (author_id, client_id) DO NOTHING" : ""}`,
			seq,
			event.msgId,
			message.author.id,
			message.author.name,
			message.clientId,
			message.text,
			event.ts,
			message.traceId,
			message.origin === undefined ? null : JSON.stringify(message.origin),
			message.sagaId ?? null,
			event.replyTo === undefined ? null : JSON.stringify(event.replyTo),
			event.mentions === undefined ? null : JSON.stringify(event.mentions),
			message.fromEditSeq ?? null,
		);
		if (inserted.rowsWritten === 0) return undefined;
		this.last = seq;
		return event;
	}

	/**
	 * Appends a retract of `msgId` and scrubs the message's text: a retracted message (a
	 * leaked secret, spam) must not stay readable in history.
	 */
	appendRetract(msgId: string, reason: RetractReason, traceId: string, now: number): RetractEvent {
		const seq = this.last + 1;
		const event: RetractEvent = { type: "retract", seq, msgId, reason, ts: this.stamp(now), traceId };
		this.sql.exec(
			"INSERT INTO events (seq, kind, msg_id, reason, ts, trace_id) VALUES (?, 'retract', ?, ?, ?, ?)",
			seq,
			msgId,
			reason,
			event.ts,
			traceId,
		);
		const target = seqOfMessageId(msgId);
		if (target !== undefined) {
			// Every version of an edited message goes too (v1.3): its first text and its edits' texts.
			const scrubbed = this.sql
				.exec<{ edit_seq: number | null }>(
					"UPDATE events SET retracted_by = ?, text = '', first_text = NULL, mentions = NULL WHERE seq = ? AND msg_id = ? RETURNING edit_seq",
					seq,
					target,
					msgId,
				)
				.toArray()[0];
			if (scrubbed !== undefined) {
				if (scrubbed.edit_seq !== null) scrubEdits(this.sql, scrubbed.edit_seq);
				this.onRetracted?.(target);
			}
		}
		this.last = seq;
		return event;
	}

	/**
	 * v1.3: appends a `reaction.added`/`reaction.removed` event. Its (user, client id) goes through
	 * the same dedup index as a send's: `undefined` comes back, and nothing is written, when that
	 * pair is already stored (the caller then answers with the original).
	 */
	appendReaction(
		reaction: { type: ReactionEvent["type"]; msgId: string; emoji: string; user: UserRef; clientId: string; traceId: string },
		now: number,
	): ReactionEvent | undefined {
		const seq = this.last + 1;
		const event: ReactionEvent = {
			type: reaction.type,
			seq,
			msgId: reaction.msgId,
			emoji: reaction.emoji,
			user: reaction.user,
			ts: this.stamp(now),
			traceId: reaction.traceId,
		};
		const inserted = this.sql.exec(
			"INSERT INTO events (seq, kind, msg_id, author_id, author_name, client_id, text, ts, trace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (author_id, client_id) DO NOTHING",
			seq,
			reaction.type,
			reaction.msgId,
			reaction.user.id,
			reaction.user.name,
			reaction.clientId,
			reaction.emoji,
			event.ts,
			reaction.traceId,
		);
		if (inserted.rowsWritten === 0) return undefined;
		this.last = seq;
		return event;
	}

	/** v1.3: the event a (user, client id) pair stored, whatever its kind (ids are one namespace per user). */
	findEventByClientId(authorId: string, clientId: string): RoomEvent | undefined {
		const row = this.sql
			.exec<EventRow>(`SELECT ${COLUMNS} FROM events WHERE author_id = ? AND client_id = ?`, authorId, clientId)
			.toArray()[0];
		return row === undefined ? undefined : toEvent(row);
	}

	/** Undoes the in-memory seq counter after a rolled-back transaction. */
	resync(): void {
		const row = this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one();
		this.last = row.seq ?? 0;
	}

	page(query: EventsQuery): RoomEvent[] {
		let rows: EventRow[];
		if ("before" in query) {
			rows = this.sql
				.exec<EventRow>(`SELECT ${COLUMNS} FROM events WHERE seq < ? ORDER BY seq DESC LIMIT ?`, query.before, query.limit)
				.toArray()
				.reverse();
		} else if ("after" in query) {
			rows = this.sql
				.exec<EventRow>(`SELECT ${COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, query.after, query.limit)
				.toArray();
		} else {
			rows = this.sql.exec<EventRow>(`SELECT ${COLUMNS} FROM events ORDER BY seq DESC LIMIT ?`, query.limit).toArray().reverse();
		}
		return markRemovedReplies(this.sql, rows.map(toEvent));
	}

	/** Messages by seq (the live and retracted alike), in the order asked; missing seqs are left out. */
	messagesAt(seqs: readonly number[]): MessageEvent[] {
		if (seqs.length === 0) return [];
		const rows = this.sql
			.exec<EventRow>(`SELECT ${COLUMNS} FROM events WHERE kind = 'message' AND seq IN (${seqs.map(() => "?").join(", ")})`, ...seqs)
			.toArray();
		const bySeq = new Map(rows.map((row) => [row.seq, toEvent(row) as MessageEvent]));
		return markRemovedReplies(
			this.sql,
			seqs.flatMap((seq) => bySeq.get(seq) ?? []),
		);
	}

	/**
	 * Forgets client ids older than the dedup window, at most once per 10 minutes and 1,000
	 * rows at a time, piggybacked on writes so an idle room needs no alarm for it.
	 */
	pruneDedup(now: number): number {
		if (now - this.lastPruneCheck < PRUNE_EVERY_MS) return 0;
		this.lastPruneCheck = now;
		const watermark = Number(this.getMeta("dedup_pruned_through") ?? "0");
		const cutoff = now - DEDUP_WINDOW_MS;
		const bound = this.sql
			.exec<{ seq: number | null }>(
				"SELECT MAX(seq) AS seq FROM (SELECT seq, ts FROM events WHERE seq > ? ORDER BY seq LIMIT ?) WHERE ts < ?",
				watermark,
				PRUNE_BATCH,
				cutoff,
			)
			.one().seq;
		if (bound === null) return 0;
		// A copy's key is its barrier record (objects/barrier.ts): it is never forgotten.
		const cursor = this.sql.exec(
			"UPDATE events SET client_id = NULL WHERE seq > ? AND seq <= ? AND client_id IS NOT NULL AND origin IS NULL",
			watermark,
			bound,
		);
		this.setMeta("dedup_pruned_through", String(bound));
		return cursor.rowsWritten;
	}

	/** Whether this author has any message here (the dedup index answers it; reactions are not posts). */
	hasAuthor(authorId: string): boolean {
		return this.sql.exec("SELECT 1 FROM events WHERE author_id = ? AND kind = 'message' LIMIT 1", authorId).toArray().length > 0;
	}

	/**
	 * The seq range of events stamped within [from, to]. Timestamps never go backwards, so a
	 * binary search over the primary key finds the bounds in O(log n) point reads, no index.
	 */
	seqRange(from: number | undefined, to: number | undefined): { first: number; last: number } {
		const tsAt = (seq: number): number => this.sql.exec<{ ts: number }>("SELECT ts FROM events WHERE seq = ?", seq).one().ts;
		const firstAtOrAfter = (ts: number): number => {
			let lo = 1;
			let hi = this.last + 1;
			while (lo < hi) {
				const mid = Math.floor((lo + hi) / 2);
				if (tsAt(mid) >= ts) hi = mid;
				else lo = mid + 1;
			}
			return lo;
		};
		const first = from === undefined ? 1 : firstAtOrAfter(from);
		const last = to === undefined ? this.last : firstAtOrAfter(to + 1) - 1;
		return { first, last };
	}

	/** Live (not retracted) messages in a seq range, optionally by one author, oldest first. */
	liveMessages(
		range: { first: number; last: number },
		authorId: string | undefined,
		limit: number,
	): Array<{ msgId: string; sagaId: string | null }> {
		const rows =
			authorId === undefined
				? this.sql.exec<{ msg_id: string; saga_id: string | null }>(
						"SELECT msg_id, saga_id FROM events WHERE seq BETWEEN ? AND ? AND kind = 'message' AND retracted_by IS NULL ORDER BY seq LIMIT ?",
						range.first,
						range.last,
						limit,
					)
				: // The dedup index (author_id, client_id) leads with the author: no history scan.
					this.sql.exec<{ msg_id: string; saga_id: string | null }>(
						"SELECT msg_id, saga_id FROM events WHERE author_id = ? AND seq BETWEEN ? AND ? AND kind = 'message' AND retracted_by IS NULL ORDER BY seq LIMIT ?",
						authorId,
						range.first,
						range.last,
						limit,
					);
		return rows.toArray().map((row) => ({ msgId: row.msg_id, sagaId: row.saga_id }));
	}

	getMeta(key: string): string | undefined {
		const row = this.sql.exec<{ value: string }>("SELECT value FROM room_meta WHERE key = ?", key).toArray()[0];
		return row?.value;
	}

	setMeta(key: string, value: string): void {
		this.sql.exec(
			"INSERT INTO room_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			key,
			value,
		);
	}
}
