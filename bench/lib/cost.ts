/**
 * Storage cost per message. A cross-post's rows are counted inside the server by each
 * object's storage meter (`GET /v1/admin/meter`: the sum of every SQLite cursor's
 * `rowsWritten`, and the alarms set), so rows written and deleted on the way count too. Plain
 * messages (and the baselines, which have no meter) are measured from outside: before and
 * after one message the probe snapshots every SQLite file Miniflare keeps for the Worker's
 * Durable Objects and diffs them row by row. A changed row counts one row written, plus one per index the change
 * touches, which is how Cloudflare bills `rowsWritten`. An alarm set shows up as a changed
 * row in Miniflare's alarm table.
 *
 * Limits, stated in the report: rows read cannot be seen from outside; a row written twice
 * between two snapshots counts once; a write of an identical value is invisible. Hence a
 * snapshot around every single message. A server-side counter (see `readServerCounters`) is
 * exact and preferred when the server exposes one.
 */
import { createHmac } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { BenchSocket, MARK, readStamp, sendFrame, socketUrl, stampedText } from "./client.ts";
import { freshRoom, TEXT_BYTES, type Target } from "./loadgen.ts";
import { round, sleep } from "./stats.ts";

interface TableShape {
	/** Columns of each secondary index (a WITHOUT ROWID table's own primary key excluded). */
	indexes: string[][];
	rows: Map<string, Record<string, unknown>>;
}

type Snapshot = Map<string, TableShape>;

function sqliteFiles(dir: string): string[] {
	const files: string[] = [];
	for (const entry of readdirSync(dir)) {
		const path = join(dir, entry);
		if (statSync(path).isDirectory()) files.push(...sqliteFiles(path));
		else if (entry.endsWith(".sqlite")) files.push(path);
	}
	return files;
}

function quote(name: string): string {
	return `"${name.replaceAll('"', '""')}"`;
}

function snapshotFile(path: string, into: Snapshot): void {
	// A busy room may hold its database for a moment (a commit, a checkpoint): wait for it.
	const db = new DatabaseSync(path, { readOnly: true, timeout: 10_000 });
	try {
		const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all();
		for (const { name } of tables as { name: string }[]) {
			const withoutRowid = /WITHOUT ROWID/i.test(
				String((db.prepare("SELECT sql FROM sqlite_master WHERE name = ?").get(name) as { sql: string }).sql),
			);
			const pk = (db.prepare(`PRAGMA table_info(${quote(name)})`).all() as { name: string; pk: number }[])
				.filter((c) => c.pk > 0)
				.sort((a, b) => a.pk - b.pk)
				.map((c) => c.name);
			const indexes: string[][] = [];
			for (const index of db.prepare(`PRAGMA index_list(${quote(name)})`).all() as { name: string; origin: string }[]) {
				if (withoutRowid && index.origin === "pk") continue;
				const columns = db.prepare(`PRAGMA index_info(${quote(index.name)})`).all() as { name: string | null }[];
				indexes.push(columns.map((c) => c.name ?? "<expr>"));
			}
			const keySql = withoutRowid ? pk.map(quote).join(", ") : "rowid";
			const rows = new Map<string, Record<string, unknown>>();
			const select = db.prepare(`SELECT ${keySql} AS __key_a, * FROM ${quote(name)}`);
			// Some tables hold nanosecond timestamps, beyond a double's exact range.
			select.setReadBigInts(true);
			for (const row of select.all() as Record<string, unknown>[]) {
				const key = withoutRowid ? pk.map((c) => String(row[c])).join("\u0000") : String(row.__key_a);
				delete row.__key_a;
				rows.set(key, row);
			}
			into.set(`${path}#${name}`, { indexes, rows });
		}
	} finally {
		db.close();
	}
}

function snapshot(persistDir: string): Snapshot {
	const result: Snapshot = new Map();
	for (const file of sqliteFiles(join(persistDir, "do"))) snapshotFile(file, result);
	return result;
}

export interface RowDiff {
	rowsWritten: number;
	alarmsSet: number;
	/** Per table: rows inserted/updated/deleted, for the report's footnotes. */
	tables: Record<string, number>;
}

function same(a: unknown, b: unknown): boolean {
	const text = (value: unknown): string => JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
	return text(a) === text(b);
}

function diff(before: Snapshot, after: Snapshot): RowDiff {
	const result: RowDiff = { rowsWritten: 0, alarmsSet: 0, tables: {} };
	for (const [key, table] of after) {
		const old = before.get(key)?.rows ?? new Map<string, Record<string, unknown>>();
		const name = key.slice(key.lastIndexOf("#") + 1);
		let changed = 0;
		let written = 0;
		const count = (row: Record<string, unknown>, previous: Record<string, unknown> | undefined): void => {
			changed++;
			written += 1;
			for (const columns of table.indexes) {
				if (previous === undefined || columns.some((c) => !same(row[c], previous[c]))) written++;
			}
		};
		for (const [rowKey, row] of table.rows) {
			const previous = old.get(rowKey);
			if (previous === undefined) count(row, undefined);
			else if (!same(previous, row)) count(row, previous);
		}
		for (const [rowKey, row] of old) if (!table.rows.has(rowKey)) count(row, undefined);
		if (changed === 0) continue;
		result.tables[name] = (result.tables[name] ?? 0) + changed;
		// Miniflare keeps alarms in its own table; on Cloudflare a setAlarm is billed as a row written too.
		if (name === "_cf_ALARM") result.alarmsSet += changed;
		else result.rowsWritten += written;
	}
	return result;
}

export interface CostResult {
	source: "sqlite-diff";
	messages: number;
	rowsWrittenPerMessage: number;
	alarmsPerMessage: number;
	/** Table name -> rows changed per message. */
	tablesPerMessage: Record<string, number>;
	crossPostTargets?: number;
	/** At `crossPostTargets` rooms, from the storage meters (alarms included). */
	rowsWrittenPerCrossPost?: number;
	/** Rows per cross-post to 1, 3 and 10 rooms, from the storage meters. */
	crossPosts?: CrossPostRows[];
	crossPostError?: string;
	/** Per plain message, from the server's own counters when it exposes them (exact, includes rows read). */
	server?: ServerCounters;
}

function average(diffs: RowDiff[]): { rows: number; alarms: number; tables: Record<string, number> } {
	const tables: Record<string, number> = {};
	for (const d of diffs) for (const [name, n] of Object.entries(d.tables)) tables[name] = (tables[name] ?? 0) + n;
	for (const name of Object.keys(tables)) tables[name] = round((tables[name] ?? 0) / diffs.length);
	return {
		rows: round(diffs.reduce((s, d) => s + d.rowsWritten, 0) / diffs.length),
		alarms: round(diffs.reduce((s, d) => s + d.alarmsSet, 0) / diffs.length),
		tables,
	};
}

function waitFor(socket: BenchSocket, accept: (frame: Buffer) => boolean, timeoutMs: number, what: string): Promise<void> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
		socket.onFrame = (frame) => {
			if (!accept(frame)) return;
			clearTimeout(timer);
			resolve();
		};
	});
}

/** Settle time after a message before the "after" snapshot, for writes done after the ack. */
export const SETTLE_MS = 150;

/** The cross-post sizes whose rows the probe counts. */
export const CROSS_POST_SIZES = [1, 3, 10] as const;

export interface CounterAccess {
	httpUrl: string;
	token: string;
}

export async function costProbe(
	target: Target,
	persistDir: string,
	crossPostTargets: number | undefined,
	counters: CounterAccess | undefined,
): Promise<CostResult> {
	const room = freshRoom("cost");
	let countersBefore: ServerCounters | undefined;
	let countersAfter: ServerCounters | undefined;
	const socket = await BenchSocket.open(socketUrl(target.wsUrl, room, "coster"));
	const accepted = (frame: Buffer): boolean => frame.indexOf(target.acks ? MARK.ack : MARK.message) >= 0;
	const diffs: RowDiff[] = [];
	try {
		// The first messages create tables and per-room rows; steady state is what gets billed.
		for (let i = 0; i < 3; i++) {
			const done = waitFor(socket, accepted, 5000, "warmup accept");
			socket.send(sendFrame(`cw-${i}`, stampedText("cw", i, TEXT_BYTES)));
			await done;
		}
		await sleep(SETTLE_MS);
		if (counters !== undefined) countersBefore = await readServerCounters(counters.httpUrl, room, counters.token);
		for (let i = 0; i < 10; i++) {
			const before = snapshot(persistDir);
			const done = waitFor(socket, accepted, 5000, "accept");
			socket.send(sendFrame(`c-${i}`, stampedText("c", i, TEXT_BYTES)));
			await done;
			await sleep(SETTLE_MS);
			diffs.push(diff(before, snapshot(persistDir)));
		}
		if (counters !== undefined) countersAfter = await readServerCounters(counters.httpUrl, room, counters.token);
	} finally {
		socket.close();
	}
	const plain = average(diffs);
	const result: CostResult = {
		source: "sqlite-diff",
		messages: diffs.length,
		rowsWrittenPerMessage: plain.rows,
		alarmsPerMessage: plain.alarms,
		tablesPerMessage: plain.tables,
	};
	if (countersBefore !== undefined && countersAfter !== undefined) {
		const per = (key: keyof ServerCounters): number => round((countersAfter[key] - countersBefore[key]) / diffs.length);
		result.server = { rowsRead: per("rowsRead"), rowsWritten: per("rowsWritten"), alarmsSet: per("alarmsSet"), events: per("events") };
	}
	if (crossPostTargets !== undefined && counters !== undefined) {
		try {
			result.crossPosts = [];
			for (const n of CROSS_POST_SIZES) result.crossPosts.push(await crossPostRows(target, counters, n, n === 10 ? 3 : 5));
			const at = result.crossPosts.find((c) => c.targets === crossPostTargets);
			result.crossPostTargets = crossPostTargets;
			if (at !== undefined) result.rowsWrittenPerCrossPost = at.rows;
		} catch (error) {
			result.crossPostError = error instanceof Error ? error.message : String(error);
		}
	}
	return result;
}

/** What one cross-post to N rooms wrote, per object (origin, targets, index, authors) and in all. */
export interface CrossPostRows {
	targets: number;
	samples: number;
	/** Mean rows written per cross-post, alarms included, over all objects. */
	rows: number;
	/** Mean rows per kind of object: origin, targets (all), index, authors. */
	perObject: Record<string, number>;
	/**
	 * Mean rows of the periodic metrics flushes that fell in a sample (not in `rows`): they are
	 * written per flush interval and counter series, however many cross-posts it held.
	 */
	metricsFlushRows: number;
}

/** One object's storage meter as `GET /v1/admin/meter` gives it (objects/storage-meter.ts). */
export interface MeterReading {
	rowsWritten: number;
	alarmWrites: number;
	/** Of rowsWritten, the metrics flushes' (absent from servers that predate the split). */
	metricsRows?: number;
	incarnation: string;
	/** v1.4: RPCs the object made (`out:<method>`) and served (`in:<method>`), where it counts them. */
	calls?: Record<string, number>;
}

/** The meters of `rooms`, of these users' inboxes, of every ops index shard and of every author directory shard. */
export async function readMeters(
	httpUrl: string,
	token: string,
	rooms: readonly string[],
	inboxes: readonly string[] = [],
): Promise<Record<string, MeterReading>> {
	const query = `rooms=${rooms.join(",")}${inboxes.length === 0 ? "" : `&inboxes=${inboxes.map(encodeURIComponent).join(",")}`}`;
	const response = await fetch(`${httpUrl}/v1/admin/meter?${query}`, {
		headers: { authorization: `Bearer ${token}` },
		signal: AbortSignal.timeout(5000),
	});
	if (!response.ok) throw new Error(`meter: ${response.status} ${await response.text()}`);
	return ((await response.json()) as { objects: Record<string, MeterReading> }).objects;
}

/** Which kind of object a meter key names, for the per-object breakdown. */
export function objectKind(key: string, origin: string): string {
	if (key === `room:${origin}`) return "origin";
	if (key.startsWith("room:")) return "targets";
	if (key.startsWith("inbox:")) return "inboxes";
	return key.startsWith("index:") ? "index" : "authors";
}

/** Settle time after a saga's frame: the index shipment and the direct attempt's check alarm (1 s). */
export const SAGA_SETTLE_MS = 1500;

/**
 * Rows written between two readings of the same objects, per kind of object (origin, targets,
 * index, authors), alarms included and metrics flushes apart; undefined when an object
 * restarted in between (its meter started over), which makes the sample meaningless.
 */
export function meterDelta(
	before: Record<string, MeterReading>,
	after: Record<string, MeterReading>,
	origin: string,
): { perObject: Record<string, number>; flushRows: number } | undefined {
	const perObject: Record<string, number> = {};
	let flushRows = 0;
	for (const [key, end] of Object.entries(after)) {
		const start = before[key];
		if (start === undefined || start.incarnation !== end.incarnation) return undefined;
		const kind = objectKind(key, origin);
		const flush = (end.metricsRows ?? 0) - (start.metricsRows ?? 0);
		flushRows += flush;
		perObject[kind] = (perObject[kind] ?? 0) + end.rowsWritten - start.rowsWritten - flush + end.alarmWrites - start.alarmWrites;
	}
	return { perObject, flushRows };
}

/** Means per object over the samples (rows per object, metrics-flush rows apart), for `targets` rooms. */
export function averageSamples(targets: number, totals: readonly Record<string, number>[], flushes: readonly number[]): CrossPostRows {
	if (totals.length === 0) throw new Error("every sample saw an object restart");
	const perObject: Record<string, number> = {};
	for (const sample of totals)
		for (const [kind, rows] of Object.entries(sample)) perObject[kind] = (perObject[kind] ?? 0) + rows / totals.length;
	for (const kind of Object.keys(perObject)) perObject[kind] = round(perObject[kind] ?? 0);
	return {
		targets,
		samples: totals.length,
		rows: round(Object.values(perObject).reduce((a, b) => a + b, 0)),
		perObject,
		metricsFlushRows: round(flushes.reduce((a, b) => a + b, 0) / flushes.length),
	};
}

/**
 * Rows one cross-post to `targets` rooms writes in every object, counted by the objects'
 * own storage meters (the sum of each SQLite cursor's `rowsWritten`, plus alarms set or
 * deleted), read before the send and after the saga has ended and everything it set off has
 * settled. Each sample is one cross-post on its own; a sample during which an object
 * restarted (its meter started over) is taken again.
 */
export async function crossPostRows(target: Target, counters: CounterAccess, targets: number, samples: number): Promise<CrossPostRows> {
	const origin = freshRoom("costx");
	const rooms = Array.from({ length: targets }, (_, i) => `${origin}-t${i}`);
	const author = await BenchSocket.open(socketUrl(target.wsUrl, origin, "coster"));
	const watchers: BenchSocket[] = [];
	try {
		for (const room of rooms) watchers.push(await BenchSocket.open(socketUrl(target.wsUrl, room, "watcher")));
		// The author's first message registers the room with the author directory: steady state is what is billed.
		const warm = waitFor(author, (f) => f.indexOf(MARK.ack) >= 0, 5000, "warm-up ack");
		author.send(sendFrame("cw", stampedText("cw", 0, TEXT_BYTES)));
		await warm;
		await sleep(SAGA_SETTLE_MS);
		const one = async (n: number): Promise<void> => {
			const sagaDone = waitFor(
				author,
				(f) => f.indexOf('"type":"saga"') >= 0 && f.indexOf('"succeeded"') >= 0,
				15_000,
				"saga succeeded frame",
			);
			const copies = watchers.map((w) =>
				waitFor(w, (f) => f.indexOf(MARK.message) >= 0 && readStamp(f)?.n === n, 15_000, "cross-posted copy"),
			);
			author.send(sendFrame(`cx-${n}`, stampedText("cx", n, TEXT_BYTES), rooms));
			await Promise.all([sagaDone, ...copies]);
			await sleep(SAGA_SETTLE_MS);
		};
		const totals: Record<string, number>[] = [];
		const flushes: number[] = [];
		for (let n = 1; totals.length < samples && n <= samples * 3; n++) {
			const before = await readMeters(counters.httpUrl, counters.token, [origin, ...rooms]);
			await one(n);
			const delta = meterDelta(before, await readMeters(counters.httpUrl, counters.token, [origin, ...rooms]), origin);
			if (delta !== undefined) {
				totals.push(delta.perObject);
				flushes.push(delta.flushRows);
			}
		}
		return averageSamples(targets, totals, flushes);
	} finally {
		author.close();
		for (const w of watchers) w.close();
	}
}

// -----------------------------------------------------------------------------------------
// Server-side counters (suggested interface; used when the server has it)
// -----------------------------------------------------------------------------------------

/**
 * The shape the bench reads from `GET /v1/admin/rooms/{room}/stats` (admin token): cumulative
 * counters the Room keeps by summing `cursor.rowsRead` / `cursor.rowsWritten` after every
 * `sql.exec`, and counting its own `setAlarm` calls and events.
 */
export interface ServerCounters {
	rowsRead: number;
	rowsWritten: number;
	alarmsSet: number;
	events: number;
}

/** HS256 JWT for the admin API, signed with the Worker's AUTH_SECRET (the test secret). */
export function adminToken(secret: string): string {
	return hs256(secret, { sub: "bench-admin", name: "bench", role: "admin" });
}

/** HS256 JWT for an ordinary user (v1.4: DMs and inboxes need one; guests have none). */
export function userToken(secret: string, sub: string, name: string = sub): string {
	return hs256(secret, { sub, name });
}

function hs256(secret: string, claims: Record<string, string>): string {
	const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
	const now = Math.floor(Date.now() / 1000);
	const body = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ ...claims, iat: now, exp: now + 3600 })}`;
	return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

/** `undefined` when the server has no such endpoint (404) or answers another shape. */
export async function readServerCounters(httpUrl: string, room: string, token: string): Promise<ServerCounters | undefined> {
	try {
		const response = await fetch(`${httpUrl}/v1/admin/rooms/${room}/stats`, {
			headers: { authorization: `Bearer ${token}` },
			signal: AbortSignal.timeout(3000),
		});
		if (!response.ok) return undefined;
		const body = (await response.json()) as Partial<Record<keyof ServerCounters, unknown>>;
		const { rowsRead, rowsWritten, alarmsSet, events } = body;
		if (
			typeof rowsRead !== "number" ||
			typeof rowsWritten !== "number" ||
			typeof alarmsSet !== "number" ||
			typeof events !== "number"
		) {
			return undefined;
		}
		return { rowsRead, rowsWritten, alarmsSet, events };
	} catch {
		return undefined;
	}
}
