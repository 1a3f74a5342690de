/**
 * The room schema's versions, applied in order by every room on start (see
 * objects/migrate.ts). Append new files; never edit one that has shipped.
 */
import events from "./0001_events.sql";
import sagas from "./0002_sagas.sql";
import operations from "./0003_operations.sql";
import compensations from "./0004_compensations.sql";
import leanOutbox from "./0005_lean_outbox.sql";
import edits from "./0006_edits.sql";
import reactionsReads from "./0007_reactions_reads.sql";
import authorDirectory from "./authors/0001_directory.sql";
import inbox from "./inbox/0001_inbox.sql";
import opsIndex from "./ops/0001_index.sql";
import opsKinds from "./ops/0002_kinds.sql";
import opsModerations from "./ops/0003_moderations.sql";
import opsMetrics from "./ops/0004_metrics.sql";
import opsCrossposts from "./ops/0005_crossposts.sql";
import moderations from "./moderation/0005_moderations.sql";
import moderationLeanOutbox from "./moderation/0006_lean_outbox.sql";

export interface Migration {
	version: number;
	name: string;
	sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
	{ version: 1, name: "0001_events", sql: events },
	{ version: 2, name: "0002_sagas", sql: sagas },
	{ version: 3, name: "0003_operations", sql: operations },
	{ version: 4, name: "0004_compensations", sql: compensations },
	{ version: 5, name: "0005_lean_outbox", sql: leanOutbox },
	{ version: 6, name: "0006_edits", sql: edits },
	// 6 is the edits' migration (branch h-chat-edits); this one applies after it.
	{ version: 7, name: "0007_reactions_reads", sql: reactionsReads },
];

/** The ops index shards' schema (objects/ops-index.ts), versioned the same way. */
export const OPS_INDEX_MIGRATIONS: readonly Migration[] = [
	{ version: 1, name: "ops/0001_index", sql: opsIndex },
	{ version: 2, name: "ops/0002_kinds", sql: opsKinds },
	{ version: 3, name: "ops/0003_moderations", sql: opsModerations },
	{ version: 4, name: "ops/0004_metrics", sql: opsMetrics },
	{ version: 5, name: "ops/0005_crossposts", sql: opsCrossposts },
];

/**
 * A moderation object's schema (objects/moderation.ts). The first ones started on the room
 * schema, so its history is the room schema's first four versions, then its own: every
 * moderation object, old or new, ends with the same tables.
 */
export const MODERATION_MIGRATIONS: readonly Migration[] = [
	...MIGRATIONS.filter((migration) => migration.version <= 4),
	{ version: 5, name: "moderation/0005_moderations", sql: moderations },
	{ version: 6, name: "moderation/0006_lean_outbox", sql: moderationLeanOutbox },
];

/** The author directory shards' schema (objects/author-directory.ts). */
export const AUTHOR_DIRECTORY_MIGRATIONS: readonly Migration[] = [{ version: 1, name: "authors/0001_directory", sql: authorDirectory }];

/** A user's inbox (objects/inbox.ts): its own schema from version 1. */
export const INBOX_MIGRATIONS: readonly Migration[] = [{ version: 1, name: "inbox/0001_inbox", sql: inbox }];
