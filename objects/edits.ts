/**
 * v1.3 edits and replies in the room's event log (docs/protocol.md, "v1.3 additions: chat").
 *
 * An edit is an event of its own (kind `edit`, its own seq, so `since` resume and paging cover
 * it) whose row is also its dedup record: its client id sits in the log's (author, client id)
 * index like a send's, so a repeat is turned away by the insert. The edited message's row is
 * updated in place to its latest text, `edit_seq` and `edited_at` (pages and replays read one
 * row per message); its first text moves to `first_text` on the first edit, and each edit
 * names the one before it (`prev_seq`), so the history is a chain of point reads.
 *
 * Rows written per edit: the edit's row and its index entry, and the message's row (3); and,
 * once search has indexed the message, its index entry replaced (objects/search.ts).
 */
import { fail, ok, type Result } from "../src/errors.ts";
import {
	codePointLength,
	type EditHistory,
	type MessageEditedEvent,
	type MessageEvent,
	REPLY_EXCERPT_CHARS,
	type ReplyRef,
	type RoomEvent,
	type UserRef,
} from "../src/protocol.ts";
import type { EventLog, StoredMessage } from "./event-log.ts";
import { seqOfMessageId } from "../src/protocol.ts";

/** The first `chars` code points of `text` (a reply's excerpt never splits a surrogate pair). */
export function excerpt(text: string, chars = REPLY_EXCERPT_CHARS): string {
	if (codePointLength(text) <= chars) return text;
	return Array.from(text).slice(0, chars).join("");
}

/**
 * Sets `replyTo.removed` (and clears its excerpt) on the messages whose quoted message has been
 * retracted since: one read for the whole page, by primary key.
 */
export function markRemovedReplies<T extends RoomEvent>(sql: SqlStorage, events: T[]): T[] {
	const targets = new Set<number>();
	for (const event of events) {
		const seq = event.type === "message" && event.replyTo !== undefined ? seqOfMessageId(event.replyTo.msgId) : undefined;
		if (seq !== undefined) targets.add(seq);
	}
	if (targets.size === 0) return events;
	const seqs = [...targets];
	const removed = new Set(
		sql
			.exec<{ seq: number }>(
				`SELECT seq FROM events WHERE seq IN (${seqs.map(() => "?").join(", ")}) AND retracted_by IS NOT NULL`,
				...seqs,
			)
			.toArray()
			.map((row) => row.seq),
	);
	if (removed.size === 0) return events;
	for (const event of events) {
		if (event.type !== "message" || event.replyTo === undefined) continue;
		const seq = seqOfMessageId(event.replyTo.msgId);
		if (seq !== undefined && removed.has(seq)) event.replyTo = { ...event.replyTo, excerpt: "", removed: true };
	}
	return events;
}

/** Scrubs the text of every edit in a retracted message's chain, newest first (a retract leaves no version readable). */
export function scrubEdits(sql: SqlStorage, latestEdit: number): void {
	let seq: number | null = latestEdit;
	while (seq !== null) {
		const row: { prev_seq: number | null } | undefined = sql
			.exec<{ prev_seq: number | null }>(
				"UPDATE events SET text = '', mentions = NULL WHERE seq = ? AND kind = 'edit' RETURNING prev_seq",
				seq,
			)
			.toArray()[0];
		seq = row?.prev_seq ?? null;
	}
}

/** What an edit needs to know about who asks and what they ask for. */
export interface EditRequest {
	editor: UserRef;
	/** The frame's client id (its dedup key); null for an edit carried to a cross-posted copy. */
	clientId: string | null;
	msgId: string;
	text: string;
	mentions: string[];
	traceId: string;
}

/** A stored edit, as its sender's ack (and a repeat's) reports it. */
export interface EditAck {
	seq: number;
	msgId: string;
	traceId: string;
}

/** Why an edit of `message` by `editorId` is refused, if it is (the room's rules for edits). */
export function editRefusal(message: StoredMessage | undefined, msgId: string, editorId: string): Result<StoredMessage> {
	if (message === undefined) return fail("not_found", `no message ${msgId} in this room`);
	if (message.retractedBy !== null) return fail("not_found", `message ${msgId} was removed`);
	if (message.event.author.id !== editorId) return fail("forbidden", "only the author can edit a message");
	const from = message.event.from;
	if (from !== undefined) {
		return fail("forbidden", `this is a copy of a message cross-posted from room ${from.room}; edit the original there`);
	}
	return ok(message);
}

interface EditRow extends Record<string, SqlStorageValue> {
	seq: number;
	kind: string;
	msg_id: string;
	trace_id: string;
}

export class Edits {
	private readonly sql: SqlStorage;
	private readonly log: EventLog;

	constructor(sql: SqlStorage, log: EventLog) {
		this.sql = sql;
		this.log = log;
	}

	/** The answer a frame with this client id got, when it was an edit (a send's is the log's). */
	findAck(editorId: string, clientId: string): EditAck | undefined {
		const row = this.sql
			.exec<EditRow>("SELECT seq, kind, msg_id, trace_id FROM events WHERE author_id = ? AND client_id = ?", editorId, clientId)
			.toArray()[0];
		return row === undefined ? undefined : { seq: row.seq, msgId: row.msg_id, traceId: row.trace_id };
	}

	/**
	 * Appends an edit of `message` (already checked with editRefusal) and moves the message to
	 * its new text; the caller holds the transaction. `undefined` when the client id is already
	 * stored (a repeat: answer it with findAck). `fromEditSeq`, for a copy: the original's edit it now shows.
	 */
	append(message: StoredMessage, request: EditRequest, now: number, fromEditSeq?: number): MessageEditedEvent | undefined {
		const seq = this.log.nextSeq();
		const ts = this.log.stampAt(now);
		const mentions = request.mentions.length > 0 ? JSON.stringify(request.mentions) : null;
		const inserted = this.sql.exec(
			`INSERT INTO events (seq, kind, msg_id, author_id, author_name, client_id, text, ts, trace_id, mentions, prev_seq)
			 VALUES (?, 'edit', ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (author_id, client_id) DO NOTHING`,
			seq,
			request.msgId,
			request.editor.id,
			request.editor.name,
			request.clientId,
			request.text,
			ts,
			request.traceId,
			mentions,
			message.event.editSeq ?? null,
		);
		if (inserted.rowsWritten === 0) return undefined;
		this.log.advanceTo(seq);
		this.sql.exec(
			"UPDATE events SET first_text = COALESCE(first_text, text), text = ?, edit_seq = ?, edited_at = ?, mentions = ?, from_edit_seq = COALESCE(?, from_edit_seq) WHERE seq = ?",
			request.text,
			seq,
			ts,
			mentions,
			fromEditSeq ?? null,
			message.event.seq,
		);
		const event: MessageEditedEvent = {
			type: "message.edited",
			seq,
			msgId: request.msgId,
			text: request.text,
			editedAt: ts,
			ts,
			traceId: request.traceId,
		};
		if (request.mentions.length > 0) event.mentions = request.mentions;
		return event;
	}

	/** Every text a live message has had, the original first; `not_found` for a missing or removed one. */
	history(room: string, msgId: string): Result<EditHistory> {
		const seq = seqOfMessageId(msgId);
		const row =
			seq === undefined
				? undefined
				: this.sql
						.exec<{
							text: string | null;
							first_text: string | null;
							ts: number;
							edit_seq: number | null;
							retracted_by: number | null;
						}>(
							"SELECT text, first_text, ts, edit_seq, retracted_by FROM events WHERE seq = ? AND msg_id = ? AND kind = 'message'",
							seq,
							msgId,
						)
						.toArray()[0];
		if (seq === undefined || row === undefined) return fail("not_found", `no message ${msgId} in this room`);
		if (row.retracted_by !== null) return fail("not_found", `message ${msgId} was removed`);
		const edits: EditHistory["versions"] = [];
		let next = row.edit_seq;
		while (next !== null) {
			const edit = this.sql
				.exec<{ seq: number; text: string | null; ts: number; prev_seq: number | null }>(
					"SELECT seq, text, ts, prev_seq FROM events WHERE seq = ? AND kind = 'edit'",
					next,
				)
				.toArray()[0];
			if (edit === undefined) break;
			edits.push({ seq: edit.seq, text: edit.text ?? "", at: edit.ts });
			next = edit.prev_seq;
		}
		const original = { seq, text: row.first_text ?? row.text ?? "", at: row.ts };
		return ok({ room, msgId, versions: [original, ...edits.reverse()] });
	}
}

/** The snapshot a reply to `target` carries: its author and the start of its current text. */
export function replySnapshot(target: MessageEvent): ReplyRef {
	return { msgId: target.msgId, author: target.author, excerpt: excerpt(target.text) };
}
