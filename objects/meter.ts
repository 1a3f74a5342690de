/**
 * An object's counters for /v1/admin/metrics, counted in memory and sent to the object's
 * ops-index shard at most once per METRICS_FLUSH_MS (default 5 s). Nothing is written per
 * message: a busy room costs its shard one small call per interval, an idle room none. The
 * one timer lives only while there is something to send, and it is shorter than the time a
 * room waits before hibernating, so it never keeps a quiet room awake longer than it would
 * be anyway. What a crash or a deploy loses is at most one interval of counts (a counter
 * that under-counts a little, never one that goes backwards).
 */
import { shardName, shardOf } from "../src/ops/shard.ts";
import { addSamples, ALARM_LAG_BUCKETS, type CounterName, type CounterSample, histogramSamples, type Labels } from "../src/ops/metrics.ts";

/** What an object sends its shard: counter increments, and (rooms) its open sockets now. */
export interface MeterBatch {
	source: string;
	at: number;
	counters: CounterSample[];
	sockets?: number;
}

export interface MeterHost {
	env(): Env;
	/** The object's name (a room id or `cmp@…`). */
	name(): string;
	shards: number;
	flushMs: number;
	/** Rooms that also count with a `room` label (METRICS_ROOMS). */
	labelledRooms: readonly string[];
	/** The open sockets to report with each flush (rooms only). */
	sockets?(): number;
}

export class Meter {
	private pending = new Map<string, CounterSample>();
	private socketsChanged = false;
	private timer: ReturnType<typeof setTimeout> | undefined;
	private readonly host: MeterHost;

	constructor(host: MeterHost) {
		this.host = host;
	}

	count(name: CounterName, labels: Labels = {}, n = 1): void {
		if (n <= 0) return;
		addSamples(this.pending, [{ name, labels, value: n }]);
		this.schedule();
	}

	/** A stored message: the total, and the room's own series when it is listed. */
	messageStored(transport: "socket" | "http"): void {
		this.count("messages_stored", { transport });
		const room = this.host.name();
		if (this.host.labelledRooms.includes(room)) this.count("room_messages_stored", { room });
	}

	alarmLag(ms: number): void {
		addSamples(this.pending, histogramSamples("alarm_lag_seconds", Math.max(0, ms) / 1000, ALARM_LAG_BUCKETS));
		this.schedule();
	}

	alertDelivery(result: "sent" | "failed"): void {
		this.count("alert_deliveries", { result });
	}

	/** Sockets came or went: the next flush reports the count. */
	socketsMoved(): void {
		this.socketsChanged = true;
		this.schedule();
	}

	private schedule(): void {
		if (this.timer !== undefined) return;
		this.timer = setTimeout(() => {
			this.timer = undefined;
			void this.flush();
		}, this.host.flushMs);
	}

	/** Sends what is pending; on failure it is kept and tried again with the next interval. */
	async flush(): Promise<void> {
		if (this.pending.size === 0 && !this.socketsChanged) return;
		const counters = [...this.pending.values()];
		const socketsChanged = this.socketsChanged;
		this.pending = new Map();
		this.socketsChanged = false;
		const source = this.host.name();
		const batch: MeterBatch = { source, at: Date.now(), counters };
		const sockets = this.host.sockets?.();
		if (sockets !== undefined) batch.sockets = sockets;
		try {
			await this.host
				.env()
				.OPS_INDEX.getByName(shardName(shardOf(source, this.host.shards)))
				.recordMetrics(batch);
		} catch (error) {
			addSamples(this.pending, counters);
			if (socketsChanged) this.socketsChanged = true;
			console.warn(JSON.stringify({ level: "warn", msg: "metrics flush failed", source, error: String(error) }));
			this.schedule();
		}
	}
}
