/**
 * One shard of the author directory: the rooms each author has posted in. Rooms register an
 * author's first message with it (through their feed, so a registration is never lost);
 * operator moderations by author read it to find every room to look in.
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
		this.ctx.storage.transactionSync(() => {
			for (const entry of entries) {
				this.sql.exec(
					"INSERT OR IGNORE INTO author_rooms (author_id, room, first_at) VALUES (?, ?, ?)",
					entry.authorId,
					entry.room,
					entry.at,
				);
			}
		});
		return entries.length;
	}

	async rooms(authorId: string): Promise<string[]> {
		return this.sql
			.exec<{ room: string }>("SELECT room FROM author_rooms WHERE author_id = ? ORDER BY room", authorId)
			.toArray()
			.map((row) => row.room);
	}
}
