/**
 * The target room's side of cross-posting: applying a task through the barrier. The barrier
 * record and the effect (a copy, or a retract of it) are written in one transaction, so a
 * repeated delivery is a no-op that answers the first result, a retract of a copy that never
 * came leaves a tombstone, and a delivery that arrives after its tombstone is refused.
 *
 * A delivered copy is its own barrier record: it is stored under a dedup key of its saga
 * (`copyKey`) in the event log's (author, client id) index, which the copy's row writes
 * anyway, so a delivery costs the copy's row and nothing else. Every other outcome (a
 * tombstone, a refused late delivery, a retract, a moderation) and copies made before this
 * keep a `barrier` row.
 *
 * An edit of the original (v1.3) needs no barrier row either: the copy records the seq of the
 * original's edit it shows (`from_edit_seq`), and an edit applies only when its seq is greater,
 * so a repeat, or an older edit arriving after a newer one, changes nothing. It is a no-op,
 * with the reason in its outcome, where the copy is gone (retracted here, or compensated) or
 * was never made.
 */
import { isGuestId, type RoomEvent, type RoomPolicy } from "../src/protocol.ts";
import { type BarrierOp, type BarrierRow, barrierDecision } from "../src/saga/barrier.ts";
import { classifyCode } from "../src/saga/errors.ts";
import { MAX_CLIENT_ID_CHARS } from "../src/protocol.ts";
import { isModeratePayload, type ModerationCounts, type TaskMessage, type TaskOutcome, type TaskOutcomeCode } from "../src/saga/types.ts";
import type { EventLog } from "./event-log.ts";
import { Edits } from "./edits.ts";

/**
 * The dedup key a saga's copy is stored under: longer than any client id may be, so no send
 * can claim it (or find it).
 */
export function copyKey(sagaId: string): string {
	return `copy of ${sagaId}`.padEnd(MAX_CLIENT_ID_CHARS + 1, ".");
}

interface BarrierRecord extends Record<string, SqlStorageValue> {
	op: string;
	outcome: string;
	seq: number | null;
	msg_id: string | null;
}

export interface Applied {
	outcome: TaskOutcome;
	/** Events to broadcast once the transaction has committed. */
	events: RoomEvent[];
}

/** Retracts a room's own messages for an operator moderation (supplied by the room). */
export type Moderate = (msgIds: readonly string[], traceId: string, now: number) => { events: RoomEvent[]; counts: ModerationCounts };

function ok(row: BarrierRow, detail: string): TaskOutcome {
	return { status: "ok", seq: row.seq, msgId: row.msgId, detail };
}

/** A refusal, classified by its code: only transient and unknown ones are retried. */
export function refusal(code: TaskOutcomeCode, message: string): TaskOutcome {
	return classifyCode(code) === "permanent" ? { status: "permanent", code, message } : { status: "transient", code, message };
}

export class Barrier {
	private readonly sql: SqlStorage;
	private readonly log: EventLog;
	private readonly edits: Edits;
	/** Told of every copy an edit changed, inside the transaction (search re-indexes it). */
	private readonly onCopyEdited: (seq: number, text: string) => void;

	constructor(sql: SqlStorage, log: EventLog, onCopyEdited: (seq: number, text: string) => void = () => undefined) {
		this.sql = sql;
		this.log = log;
		this.edits = new Edits(sql, log);
		this.onCopyEdited = onCopyEdited;
	}

	private rows(sagaId: string, authorId: string | undefined): Partial<Record<BarrierOp, BarrierRow>> {
		const found: Partial<Record<BarrierOp, BarrierRow>> = {};
		const copy = authorId === undefined ? undefined : this.log.findByClientId(authorId, copyKey(sagaId));
		if (copy !== undefined) found.deliver = { op: "deliver", outcome: "applied", seq: copy.event.seq, msgId: copy.event.msgId };
		for (const row of this.sql.exec<BarrierRecord>("SELECT op, outcome, seq, msg_id FROM barrier WHERE saga_id = ?", sagaId)) {
			found[row.op as BarrierOp] = {
				op: row.op as BarrierOp,
				outcome: row.outcome as BarrierRow["outcome"],
				seq: row.seq,
				msgId: row.msg_id,
			};
		}
		return found;
	}

	/** `origin_room` holds the task's origin id: a moderation's id for a moderate row. */
	private record(task: TaskMessage, row: BarrierRow, now: number): void {
		this.sql.exec(
			"INSERT INTO barrier (saga_id, op, outcome, seq, msg_id, origin_room, trace_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			task.sagaId,
			row.op,
			row.outcome,
			row.seq,
			row.msgId,
			task.origin.id,
			task.traceId,
			now,
		);
	}

	/** Applies one task; the caller holds the transaction and broadcasts `events` after it. */
	apply(task: TaskMessage, policy: RoomPolicy, now: number, moderate: Moderate): Applied {
		if (task.kind === "edit") return this.applyEdit(task, now);
		if (task.kind === "mention" || task.kind === "unmention") {
			return { outcome: refusal("bad_request", `a ${task.kind} task goes to an inbox, not a room`), events: [] };
		}
		const op: BarrierOp = task.kind;
		const payload = task.payload;
		const decision = barrierDecision(op, this.rows(task.sagaId, isModeratePayload(payload) ? undefined : payload.author.id));
		if (op === "moderate" || isModeratePayload(payload)) {
			if (decision.action === "replay") return { outcome: ok(decision.row, "repeat of an earlier moderation"), events: [] };
			if (!isModeratePayload(payload)) return { outcome: refusal("bad_request", "a moderate task needs msgIds"), events: [] };
			const result = moderate(payload.msgIds, task.traceId, now);
			const row: BarrierRow = { op, outcome: "applied", seq: result.events.at(-1)?.seq ?? null, msgId: null };
			this.record(task, row, now);
			const { counts } = result;
			const detail = `retracted ${counts.retracted}, already gone ${counts.alreadyGone}, missing ${counts.missing}, copies compensated via ${counts.sagasCompensated} sagas`;
			return { outcome: { status: "ok", seq: row.seq, msgId: null, detail, counts }, events: result.events };
		}
		switch (decision.action) {
			case "replay":
				return { outcome: ok(decision.row, `repeat of an earlier ${op}`), events: [] };
			case "refuse_late_delivery": {
				const row: BarrierRow = { op, outcome: "refused_after_tombstone", seq: null, msgId: null };
				this.record(task, row, now);
				return { outcome: ok(row, "delivery arrived after its compensation: no copy made"), events: [] };
			}
			case "null_compensation": {
				const row: BarrierRow = { op, outcome: "tombstone", seq: null, msgId: null };
				this.record(task, row, now);
				return { outcome: ok(row, "no copy was delivered here: tombstone recorded"), events: [] };
			}
			case "retract_copy": {
				const copyId = decision.copy.msgId;
				const reason = payload.reason ?? "compensated";
				const copy = copyId === null ? undefined : this.log.findMessage(copyId);
				const events: RoomEvent[] = [];
				let seq: number | null = copy?.retractedBy ?? null;
				if (copy !== undefined && copy.retractedBy === null) {
					const retract = this.log.appendRetract(copy.event.msgId, reason, task.traceId, now);
					events.push(retract);
					seq = retract.seq;
				}
				const row: BarrierRow = { op, outcome: "applied", seq, msgId: copyId };
				this.record(task, row, now);
				return { outcome: ok(row, events.length > 0 ? "copy retracted" : "copy was already retracted"), events };
			}
			case "apply": {
				// Refusals a retry cannot change: no barrier row, so a later retract is a null compensation.
				if (policy.readOnly) return { outcome: refusal("read_only", "the target room is read-only"), events: [] };
				if (policy.banned.includes(payload.author.id)) {
					return { outcome: refusal("banned", "the author is banned in the target room"), events: [] };
				}
				if (policy.banGuests === true && isGuestId(payload.author.id)) {
					return { outcome: refusal("banned", "guests may not post in the target room"), events: [] };
				}
				// The copy is the barrier record: stored under its saga's key, no barrier row.
				const copy = this.log.appendMessage(
					{
						author: payload.author,
						clientId: copyKey(task.sagaId),
						text: payload.text,
						traceId: task.traceId,
						// v1.3: a delivery made after the original was edited carries its latest text.
						...(payload.editSeq === undefined ? {} : { fromEditSeq: payload.editSeq }),
						// Deliveries come from rooms only: the origin is the room that cross-posted.
						origin: { room: task.origin.id, msgId: payload.msgId, sagaId: task.sagaId },
					},
					now,
				);
				const row: BarrierRow = { op, outcome: "applied", seq: copy.seq, msgId: copy.msgId };
				return { outcome: ok(row, "copy delivered"), events: [copy] };
			}
		}
	}

	/** An edit of the original reaching its copy here (see the module's comment). */
	private applyEdit(task: TaskMessage, now: number): Applied {
		const payload = task.payload;
		const done = (detail: string, msgId: string | null = null): Applied => ({
			outcome: { status: "ok", seq: null, msgId, detail },
			events: [],
		});
		if (isModeratePayload(payload) || payload.editSeq === undefined) {
			return { outcome: refusal("bad_request", "an edit task needs the edit's seq and text"), events: [] };
		}
		const rows = this.rows(task.sagaId, payload.author.id);
		if (rows.retract !== undefined) return done("tombstone: the copy was compensated here; edit not applied");
		const copyId = rows.deliver?.outcome === "applied" ? rows.deliver.msgId : null;
		const copy = copyId === null ? undefined : this.log.findMessage(copyId);
		if (copy === undefined) return done("no copy was delivered here: nothing to edit");
		if (copy.retractedBy !== null) return done("tombstone: the copy was retracted here; edit not applied", copy.event.msgId);
		// The original was removed meanwhile (its outbox text is scrubbed): its retract follows.
		if (payload.text === "") return done("the original was removed: edit not applied", copy.event.msgId);
		const shown = this.fromEditSeq(copy.event.seq);
		if (shown !== null && shown >= payload.editSeq) {
			return done(`the copy already shows edit ${shown} of the original (this is ${payload.editSeq})`, copy.event.msgId);
		}
		const request = {
			editor: payload.author,
			clientId: null,
			msgId: copy.event.msgId,
			text: payload.text,
			mentions: [],
			traceId: task.traceId,
		};
		const edited = this.edits.append(copy, request, now, payload.editSeq);
		if (edited === undefined) throw new Error("an edit without a client id cannot be a repeat");
		this.onCopyEdited(copy.event.seq, payload.text);
		return { outcome: { status: "ok", seq: edited.seq, msgId: copy.event.msgId, detail: "copy edited" }, events: [edited] };
	}

	/** The seq of the original's edit a copy shows, if it shows one. */
	private fromEditSeq(copySeq: number): number | null {
		const row = this.sql.exec<{ from_edit_seq: number | null }>("SELECT from_edit_seq FROM events WHERE seq = ?", copySeq).toArray()[0];
		return row?.from_edit_seq ?? null;
	}
}
