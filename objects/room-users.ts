/**
 * The users who have posted in a room (v1.3), for `@` mentions (src/mentions.ts). One row per
 * user in `room_users`, written on their first post here and when their name changes, never
 * per message: the room reads the table once per incarnation and keeps it in memory.
 */
import { MentionIndex } from "../src/mentions.ts";
import type { UserRef } from "../src/protocol.ts";

export class RoomUsers {
	private readonly sql: SqlStorage;
	/** User id → name, as stored; read on first use. */
	private users: Map<string, string> | undefined;
	private index: MentionIndex | undefined;

	constructor(sql: SqlStorage) {
		this.sql = sql;
	}

	private load(): Map<string, string> {
		this.users ??= new Map(
			this.sql
				.exec<{ user_id: string; name: string }>("SELECT user_id, name FROM room_users")
				.toArray()
				.map((row) => [row.user_id, row.name]),
		);
		return this.users;
	}

	/** Notes that `user` posted here, inside the caller's transaction: a row only if new or renamed. */
	posted(user: UserRef): void {
		const users = this.load();
		if (users.get(user.id) === user.name) return;
		this.sql.exec(
			"INSERT INTO room_users (user_id, name) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET name = excluded.name",
			user.id,
			user.name,
		);
		users.set(user.id, user.name);
		this.index = undefined;
	}

	/** The ids of the room's users that `text` mentions. */
	mentions(text: string): string[] {
		// Most messages mention nobody: no index is built for them.
		if (!text.includes("@")) return [];
		this.index ??= new MentionIndex([...this.load()].map(([id, name]) => ({ id, name })));
		return this.index.match(text);
	}

	/** Forgets what memory holds after a rolled-back transaction (read again on next use). */
	forget(): void {
		this.users = undefined;
		this.index = undefined;
	}
}
