/**
 * The room schema's versions, applied in order by every room on start (see
 * objects/migrate.ts). Append new files; never edit one that has shipped.
 */
import events from "./0001_events.sql";
import sagas from "./0002_sagas.sql";

export interface Migration {
	version: number;
	name: string;
	sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
	{ version: 1, name: "0001_events", sql: events },
	{ version: 2, name: "0002_sagas", sql: sagas },
];
