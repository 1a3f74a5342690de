/**
 * v1.3 read state: one read marker per user in the room, moved only forward, and what a
 * welcome says about it (the caller's marker and unread count, others' latest markers).
 * Synchronous on purpose, like the event log: callers hold the transaction.
 */
import { type ReadState, type Receipt, UNREAD_COUNT_MAX, type UserRef } from "../src/protocol.ts";

export class ReadMarkers {
	private readonly sql: SqlStorage;

	constructor(sql: SqlStorage) {
		this.sql = sql;
	}

	/** The user's marker (0 when they never sent one). */
	marker(userId: string): number {
		return this.sql.exec<{ seq: number }>("SELECT seq FROM read_markers WHERE user_id = ?", userId).toArray()[0]?.seq ?? 0;
	}

	/**
	 * Moves the user's marker to `seq` if that is further on: one upsert, which writes no row
	 * when the marker would not move (a repeat, a lower seq), so reading never costs a row per
	 * message read, nor per repeat. `seq` is already clamped to the room's lastSeq by the caller.
	 * Returns the marker as stored and whether this call moved it.
	 */
	advance(user: UserRef, seq: number, now: number): { seq: number; moved: boolean } {
		// 0 is where every marker starts: storing it would be a row that says nothing.
		if (seq > 0) {
			const cursor = this.sql.exec(
				"INSERT INTO read_markers (user_id, user_name, seq, at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET seq = excluded.seq, user_name = excluded.user_name, at = excluded.at WHERE excluded.seq > read_markers.seq",
				user.id,
				user.name,
				seq,
				now,
			);
			if (cursor.rowsWritten > 0) return { seq, moved: true };
		}
		return { seq: this.marker(user.id), moved: false };
	}

	/**
	 * The user's marker with its unread count: live messages by others after it. Counted by a
	 * range scan of the event log's primary key from the marker on (no index, no counter row
	 * to keep up to date per message), stopping at UNREAD_COUNT_MAX matches, so a welcome reads
	 * at most about that many rows however far behind the reader is.
	 */
	state(userId: string): ReadState {
		const seq = this.marker(userId);
		const unread = this.sql
			.exec<{ n: number }>(
				"SELECT COUNT(*) AS n FROM (SELECT 1 FROM events WHERE seq > ? AND kind = 'message' AND retracted_by IS NULL AND author_id IS NOT ? LIMIT ?)",
				seq,
				userId,
				UNREAD_COUNT_MAX,
			)
			.one().n;
		return { seq, unread };
	}

	/**
	 * Others' markers, furthest on first (a higher seq is a more recent read), at most `limit`.
	 * With no index on `seq` (it would cost a row per marker moved) this reads every marker of
	 * the room once per welcome: rows read, which cost about a thousandth of rows written.
	 */
	receipts(exceptUserId: string, limit: number): Receipt[] {
		return this.sql
			.exec<{ user_id: string; user_name: string; seq: number }>(
				"SELECT user_id, user_name, seq FROM read_markers WHERE user_id != ? ORDER BY seq DESC, at DESC LIMIT ?",
				exceptUserId,
				limit,
			)
			.toArray()
			.map((row) => ({ user: { id: row.user_id, name: row.user_name }, seq: row.seq }));
	}
}
