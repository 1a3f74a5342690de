/**
 * @module
 * An inbox's SQLite rows (migrations/inbox/0001_inbox.sql): its rooms and its mention
 * registers, each a single row keyed by what a task names, and the frames that say what a row
 * is now. Synchronous on purpose: the inbox holds the transaction.
 */
import type { InboxChangeFrame, InboxRoomKind, Mention } from "../src/inbox-protocol.ts";
import type { MentionCursor, MentionState } from "../src/inbox-rules.ts";
import type { UserRef } from "../src/protocol.ts";

export interface RoomRow {
	room: string;
	kind: InboxRoomKind;
	peer?: UserRef;
	joinedAt: number;
	leftAt: number | null;
	changeSeq: number;
}

export interface MentionRow {
	room: string;
	msgId: string;
	seq: number;
	author: UserRef;
	excerpt: string;
	ts: number;
	editedAt: number | null;
	state: MentionState;
	version: number;
	changeSeq: number;
}

interface RoomRecord extends Record<string, SqlStorageValue> {
	room: string;
	kind: string;
	peer_id: string | null;
	peer_name: string | null;
	joined_at: number;
	left_at: number | null;
	change_seq: number;
}

interface MentionRecord extends Record<string, SqlStorageValue> {
	room: string;
	msg_id: string;
	seq: number;
	author_id: string;
	author_name: string;
	excerpt: string;
	ts: number;
	edited_at: number | null;
	state: string;
	version: number;
	change_seq: number;
}

const ROOM_COLUMNS = "room, kind, peer_id, peer_name, joined_at, left_at, change_seq";
const MENTION_COLUMNS = "room, msg_id, seq, author_id, author_name, excerpt, ts, edited_at, state, version, change_seq";

function roomRow(record: RoomRecord): RoomRow {
	const row: RoomRow = {
		room: record.room,
		kind: record.kind as InboxRoomKind,
		joinedAt: record.joined_at,
		leftAt: record.left_at,
		changeSeq: record.change_seq,
	};
	if (record.peer_id !== null) row.peer = { id: record.peer_id, name: record.peer_name ?? record.peer_id };
	return row;
}

function mentionRow(record: MentionRecord): MentionRow {
	return {
		room: record.room,
		msgId: record.msg_id,
		seq: record.seq,
		author: { id: record.author_id, name: record.author_name },
		excerpt: record.excerpt,
		ts: record.ts,
		editedAt: record.edited_at,
		state: record.state as MentionState,
		version: record.version,
		changeSeq: record.change_seq,
	};
}

/** A live mention row as the wire shows it. */
export function mentionOf(row: MentionRow): Mention {
	const mention: Mention = { room: row.room, msgId: row.msgId, seq: row.seq, author: row.author, excerpt: row.excerpt, ts: row.ts };
	if (row.editedAt !== null) mention.editedAt = row.editedAt;
	return mention;
}

/** The durable frame a room row stands for now. */
export function roomFrame(row: RoomRow): InboxChangeFrame {
	if (row.leftAt !== null) return { type: "room.left", seq: row.changeSeq, room: row.room };
	return {
		type: "room.joined",
		seq: row.changeSeq,
		room: row.room,
		kind: row.kind,
		...(row.peer === undefined ? {} : { with: row.peer }),
		joinedAt: row.joinedAt,
	};
}

/** The durable frame a mention row stands for now: a removed or gone one is `mention.removed`. */
export function mentionFrame(row: MentionRow): InboxChangeFrame {
	if (row.state === "live") return { type: "mention", seq: row.changeSeq, mention: mentionOf(row) };
	return { type: "mention.removed", seq: row.changeSeq, room: row.room, msgId: row.msgId };
}

export class InboxStore {
	private readonly sql: SqlStorage;
	/** The latest change seq: the highest change_seq of any row (rows are updated, never deleted). */
	lastChange: number;

	constructor(sql: SqlStorage) {
		this.sql = sql;
		// Read once per incarnation: every row's change_seq, with no index to keep up to date.
		const rooms = sql.exec<{ n: number | null }>("SELECT MAX(change_seq) AS n FROM inbox_rooms").one().n ?? 0;
		const mentions = sql.exec<{ n: number | null }>("SELECT MAX(change_seq) AS n FROM inbox_mentions").one().n ?? 0;
		this.lastChange = Math.max(rooms, mentions);
	}

	room(room: string): RoomRow | undefined {
		const record = this.sql.exec<RoomRecord>(`SELECT ${ROOM_COLUMNS} FROM inbox_rooms WHERE room = ?`, room).toArray()[0];
		return record === undefined ? undefined : roomRow(record);
	}

	/** Rooms in the inbox now (not left). */
	joinedRooms(): RoomRow[] {
		return this.sql.exec<RoomRecord>(`SELECT ${ROOM_COLUMNS} FROM inbox_rooms WHERE left_at IS NULL`).toArray().map(roomRow);
	}

	joinedCount(): number {
		return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM inbox_rooms WHERE left_at IS NULL").one().n;
	}

	putRoom(row: RoomRow): void {
		this.sql.exec(
			`INSERT OR REPLACE INTO inbox_rooms (${ROOM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			row.room,
			row.kind,
			row.peer?.id ?? null,
			row.peer?.name ?? null,
			row.joinedAt,
			row.leftAt,
			row.changeSeq,
		);
	}

	mention(room: string, msgId: string): MentionRow | undefined {
		const record = this.sql
			.exec<MentionRecord>(`SELECT ${MENTION_COLUMNS} FROM inbox_mentions WHERE room = ? AND msg_id = ?`, room, msgId)
			.toArray()[0];
		return record === undefined ? undefined : mentionRow(record);
	}

	putMention(row: MentionRow): void {
		this.sql.exec(
			`INSERT OR REPLACE INTO inbox_mentions (${MENTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			row.room,
			row.msgId,
			row.seq,
			row.author.id,
			row.author.name,
			row.excerpt,
			row.ts,
			row.editedAt,
			row.state,
			row.version,
			row.changeSeq,
		);
	}

	/** The seqs of the live mentions of one room (a range of the primary key). */
	liveSeqs(room: string): number[] {
		return this.sql
			.exec<{ seq: number }>("SELECT seq FROM inbox_mentions WHERE room = ? AND state = 'live'", room)
			.toArray()
			.map((row) => row.seq);
	}

	/** The seqs of every live mention, by room. */
	liveSeqsByRoom(): Map<string, number[]> {
		const byRoom = new Map<string, number[]>();
		for (const row of this.sql.exec<{ room: string; seq: number }>("SELECT room, seq FROM inbox_mentions WHERE state = 'live'")) {
			const seqs = byRoom.get(row.room) ?? [];
			seqs.push(row.seq);
			byRoom.set(row.room, seqs);
		}
		return byRoom;
	}

	/** Live mentions newest first by (ts, room, msgId), after the cursor if one is given; read lazily. */
	*liveMentions(before?: MentionCursor): Generator<MentionRow> {
		const cursor =
			before === undefined
				? this.sql.exec<MentionRecord>(
						`SELECT ${MENTION_COLUMNS} FROM inbox_mentions WHERE state = 'live' ORDER BY ts DESC, room DESC, msg_id DESC`,
					)
				: this.sql.exec<MentionRecord>(
						`SELECT ${MENTION_COLUMNS} FROM inbox_mentions WHERE state = 'live' AND (ts < ? OR (ts = ? AND (room < ? OR (room = ? AND msg_id < ?)))) ORDER BY ts DESC, room DESC, msg_id DESC`,
						before.ts,
						before.ts,
						before.room,
						before.room,
						before.msgId,
					);
		for (const record of cursor) yield mentionRow(record);
	}

	/** Every row changed after `since`, as the frames they stand for now, in change order. */
	changesAfter(since: number): InboxChangeFrame[] {
		const frames: InboxChangeFrame[] = [
			...this.sql
				.exec<RoomRecord>(`SELECT ${ROOM_COLUMNS} FROM inbox_rooms WHERE change_seq > ?`, since)
				.toArray()
				.map((r) => roomFrame(roomRow(r))),
			...this.sql
				.exec<MentionRecord>(`SELECT ${MENTION_COLUMNS} FROM inbox_mentions WHERE change_seq > ?`, since)
				.toArray()
				.map((r) => mentionFrame(mentionRow(r))),
		];
		return frames.sort((a, b) => a.seq - b.seq);
	}

	getMeta(key: string): string | undefined {
		return this.sql.exec<{ value: string }>("SELECT value FROM inbox_meta WHERE key = ?", key).toArray()[0]?.value;
	}

	/** Writes only when the value changes: a repeat writes no row. */
	setMeta(key: string, value: string): void {
		this.sql.exec(
			"INSERT INTO inbox_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value != excluded.value",
			key,
			value,
		);
	}
}
