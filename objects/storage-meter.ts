/**
 * The storage meter (not the metrics counters of objects/meter.ts, which go to the ops index):
 * what an object's storage writes cost, counted where they happen: the sum of `rowsWritten`
 * over every `sql.exec` cursor (SQLite reports it when the statement runs, index entries
 * included, which is what Cloudflare bills), plus every alarm set or deleted (billed as a row
 * written each); and (v1.4) the Durable Object RPCs the object makes and serves, where it
 * counts them, since requests are billed too. In memory only: counting must never cost a row
 * itself, so a counter starts from zero with each incarnation, which `incarnation` names for
 * readers that diff two reads.
 */

/** One object's counts since it started. */
export interface MeterReading {
	rowsWritten: number;
	alarmWrites: number;
	/**
	 * Of `rowsWritten`, the rows of periodic metrics flushes (an ops-index shard's metric
	 * tables): a cost per flush interval and counter series, not per message or cross-post, so
	 * readers that price one operation subtract it and report it on its own.
	 */
	metricsRows: number;
	incarnation: string;
	/**
	 * v1.4: Durable Object RPCs this object made (`out:<method>`) and served (`in:<method>`) since
	 * it started, for the objects that count them (a room's pushes to inboxes, an inbox's reads):
	 * requests are billed like rows, so the bench prices them by count, not by formula.
	 */
	calls: Record<string, number>;
}

export class StorageMeter {
	rowsWritten = 0;
	alarmWrites = 0;
	metricsRows = 0;
	readonly incarnation = crypto.randomUUID();
	private readonly calls = new Map<string, number>();

	/** Counts one RPC made (`out`) or served (`in`); in memory, like the rows. */
	countCall(direction: "in" | "out", method: string): void {
		const key = `${direction}:${method}`;
		this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
	}

	reading(): MeterReading {
		return {
			rowsWritten: this.rowsWritten,
			alarmWrites: this.alarmWrites,
			metricsRows: this.metricsRows,
			incarnation: this.incarnation,
			calls: Object.fromEntries(this.calls),
		};
	}
}

/** The object's SQL API with every statement counted into `meter`; reads and results are untouched. */
export function meteredSql(sql: SqlStorage, meter: StorageMeter): SqlStorage {
	return {
		exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: SqlStorageValue[]): SqlStorageCursor<T> {
			const cursor = sql.exec<T>(query, ...bindings);
			// A write statement has run by the time exec returns, so its count is final here.
			meter.rowsWritten += cursor.rowsWritten;
			return cursor;
		},
		get databaseSize(): number {
			return sql.databaseSize;
		},
		Cursor: sql.Cursor,
		Statement: sql.Statement,
	};
}

/** Sums readings of several objects. */
export function totalRows(readings: readonly MeterReading[]): number {
	return readings.reduce((n, r) => n + r.rowsWritten + r.alarmWrites, 0);
}
