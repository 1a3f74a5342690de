/**
 * One shard of the author directory: the rooms each author has posted in. Rooms register an
 * author's first message with it (through their feed, so a registration is never lost);
 * operator moderations by author read it to find every room to look in, and (v1.4) a user's
 * inbox reads it for the rooms a first post joined implicitly. A new registration is also
 * pushed to the author's inbox at once, best effort: one that is lost is read when the inbox is.
 */
import { DurableObject } from "cloudflare:workers";
import { AUTHOR_DIRECTORY_MIGRATIONS } from "../migrations/index.ts";
import { type MeterReading, meteredSql, StorageMeter } from "./storage-meter.ts";
import { applyMigrations } from "./migrate.ts";
import type { AuthorRoom } from "./ops-record.ts";

export class AuthorDirectory extends DurableObject<Env> {
	readonly storageMeter = new StorageMeter();
	private readonly sql: SqlStorage;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		applyMigrations(ctx.storage, AUTHOR_DIRECTORY_MIGRATIONS);
		this.sql = meteredSql(ctx.storage.sql, this.storageMeter);
	}

	/** Rows this shard has written since it started (see objects/storage-meter.ts). */
	async meterReading(): Promise<MeterReading> {
		return this.storageMeter.reading();
	}

	async ingest(entries: AuthorRoom[]): Promise<number> {
		const added = this.ctx.storage.transactionSync(() =>
			entries.filter(
				(entry) =>
					this.sql.exec(
						"INSERT OR IGNORE INTO author_rooms (author_id, room, first_at) VALUES (?, ?, ?)",
						entry.authorId,
						entry.room,
						entry.at,
					).rowsWritten > 0,
			),
		);
		for (const entry of added) {
			const pushed = this.env.INBOX.getByName(entry.authorId)
				.postedIn([{ room: entry.room, at: entry.at }], entry.authorName)
				.catch(() => undefined);
			this.ctx.waitUntil(pushed);
		}
		return entries.length;
	}

	/** v1.4: the rooms an author has posted in, with when they first did (for their inbox). */
	async roomsSince(authorId: string): Promise<Array<{ room: string; at: number }>> {
		return this.sql
			.exec<{ room: string; first_at: number }>("SELECT room, first_at FROM author_rooms WHERE author_id = ? ORDER BY room", authorId)
			.toArray()
			.map((row) => ({ room: row.room, at: row.first_at }));
	}

	async rooms(authorId: string): Promise<string[]> {
		return (await this.roomsSince(authorId)).map((entry) => entry.room);
	}
}
