/**
 * v1.3 room search over live messages with SQLite FTS5 (`message_search`, migrations/0006).
 *
 * The index is contentless (a message's text is stored once, in `events`) and keyed by the
 * message's seq. It is filled lazily: a send writes no index row (a plain message stays at two
 * rows written, docs/cost.md); the first search after new messages indexes them, from the
 * watermark `search_indexed_through` on, in chunks. Messages the index holds are kept exact
 * as they change: an edit replaces the entry with the latest text, a retract deletes it; the
 * ones after the watermark need nothing, as the catch-up reads their latest state.
 *
 * A retract must leave no word of the message readable, and FTS5 keeps a deleted entry's
 * terms in its segments until they are merged: so a transaction that retracted an indexed
 * message ends by rewriting the index (`optimize`, see purge()), which costs rows in
 * proportion to the index's size (docs/cost.md). A room never searched has no entries to purge.
 */
import { fail, ok, type Result } from "../src/errors.ts";
import type { MessageEvent, SearchPage } from "../src/protocol.ts";
import type { SearchQuery } from "../src/protocol.ts";
import { ftsQuery } from "../src/search-query.ts";
import type { EventLog } from "./event-log.ts";

const WATERMARK_KEY = "search_indexed_through";
/** How a catch-up is cut up. */
export interface CatchUpLimits {
	/** Seqs looked at per transaction. */
	chunk: number;
	/** Transactions one search may spend on it; beyond, the search asks to be retried. */
	chunksPerCall: number;
}

/** 500 per transaction, 40 per call: a call indexes at most 20,000 messages before answering. */
export const CATCH_UP: CatchUpLimits = { chunk: 500, chunksPerCall: 40 };

export class Search {
	private readonly sql: SqlStorage;
	private readonly log: () => EventLog;
	private watermark: number | undefined;
	/** An indexed message was retracted in the open transaction: purge() must rewrite the index. */
	private dirty = false;

	private readonly limits: CatchUpLimits;

	constructor(sql: SqlStorage, log: () => EventLog, limits: CatchUpLimits = CATCH_UP) {
		this.sql = sql;
		this.log = log;
		this.limits = limits;
	}

	/** Every seq at or below this has been looked at by the index. */
	private indexedThrough(): number {
		this.watermark ??= Number(this.log().getMeta(WATERMARK_KEY) ?? "0");
		return this.watermark;
	}

	/** Forgets the watermark held in memory (after a rolled-back transaction). */
	forget(): void {
		this.watermark = undefined;
		this.dirty = false;
	}

	/** Whether the catch-up has work left. */
	behind(): boolean {
		return this.indexedThrough() < this.log().lastSeq;
	}

	/**
	 * Indexes the next chunk of messages after the watermark, inside the caller's transaction:
	 * live ones with their latest text; retracted ones and other events are only passed over.
	 * Returns how many were indexed.
	 */
	catchUpChunk(): number {
		const from = this.indexedThrough();
		const last = this.log().lastSeq;
		const through = Math.min(last, from + this.limits.chunk);
		if (through <= from) return 0;
		const rows = this.sql
			.exec<{ seq: number; text: string }>(
				"SELECT seq, text FROM events WHERE seq > ? AND seq <= ? AND kind = 'message' AND retracted_by IS NULL ORDER BY seq",
				from,
				through,
			)
			.toArray();
		for (const row of rows) this.sql.exec("INSERT INTO message_search (rowid, text) VALUES (?, ?)", row.seq, row.text);
		this.log().setMeta(WATERMARK_KEY, String(through));
		this.watermark = through;
		return rows.length;
	}

	/** Inside an edit's transaction: an indexed message's entry now holds its latest text. */
	edited(seq: number, text: string): void {
		if (seq > this.indexedThrough()) return;
		this.sql.exec("DELETE FROM message_search WHERE rowid = ?", seq);
		this.sql.exec("INSERT INTO message_search (rowid, text) VALUES (?, ?)", seq, text);
	}

	/** Inside a retract's transaction: a retracted message leaves the index. */
	retracted(seq: number): void {
		if (seq > this.indexedThrough()) return;
		this.sql.exec("DELETE FROM message_search WHERE rowid = ?", seq);
		this.dirty = true;
	}

	/**
	 * At the end of a transaction that retracted indexed messages (once, however many): merges
	 * the index's segments into one, which drops the deleted entries' terms for good.
	 */
	purge(): void {
		if (!this.dirty) return;
		this.sql.exec("INSERT INTO message_search (message_search) VALUES ('optimize')");
		this.dirty = false;
	}

	/**
	 * Catches the index up, a chunk per transaction (`write` opens one), letting the object's
	 * other requests and frames run between chunks, so a long catch-up never holds the room;
	 * then answers one page. A catch-up longer than one call's budget is resumed by the next
	 * call: this one answers `rate_limited` with how far it got.
	 */
	async search(room: string, query: SearchQuery, write: (work: () => void) => void): Promise<Result<SearchPage>> {
		for (let chunks = 0; this.behind(); chunks++) {
			if (chunks === this.limits.chunksPerCall) {
				const message = `this room's history is being indexed for search (through seq ${this.indexedThrough()} of ${this.log().lastSeq}); retry`;
				return fail("rate_limited", message, 1000);
			}
			write(() => this.catchUpChunk());
			await new Promise((resolve) => setTimeout(resolve, 0));
		}
		return ok(this.page(room, query));
	}

	/** One page of live messages matching `query`, newest first (the caller has caught up). */
	page(room: string, query: SearchQuery): SearchPage {
		const match = ftsQuery(query.q);
		if (match === undefined) return { room, q: query.q, results: [] };
		const seqs = this.sql
			.exec<{ seq: number }>(
				"SELECT rowid AS seq FROM message_search WHERE message_search MATCH ? AND rowid < ? ORDER BY rowid DESC LIMIT ?",
				match,
				query.before ?? Number.MAX_SAFE_INTEGER,
				query.limit + 1,
			)
			.toArray()
			.map((row) => row.seq);
		const more = seqs.length > query.limit;
		const kept = seqs.slice(0, query.limit);
		// The index never holds a retracted message; read as a second guard all the same.
		const results: MessageEvent[] = this.log()
			.messagesAt(kept)
			.filter((message) => message.retractedBy === undefined);
		const page: SearchPage = { room, q: query.q, results };
		const oldest = kept.at(-1);
		if (more && oldest !== undefined) page.before = oldest;
		return page;
	}
}
