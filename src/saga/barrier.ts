/**
 * @module
 * The target room's barrier rules (after DTM's sub-transaction barrier), as a pure decision
 * over the barrier rows already recorded for one saga in this room. The caller applies the
 * decision and records the row in the same transaction as the effect.
 */

export type BarrierOp = "deliver" | "retract" | "moderate";

export interface BarrierRow {
	op: BarrierOp;
	/** What the op did: a copy, a retract, or nothing (tombstone / refused late delivery). */
	outcome: "applied" | "tombstone" | "refused_after_tombstone";
	/** The seq of the copy (deliver) or of the retract event (retract), when there is one. */
	seq: number | null;
	msgId: string | null;
}

export type BarrierDecision =
	/** First time: perform the effect and record it. */
	| { action: "apply" }
	/** Seen before: return the recorded result, change nothing. */
	| { action: "replay"; row: BarrierRow }
	/** A delivery after its compensation: record the refusal, make no copy. */
	| { action: "refuse_late_delivery" }
	/** A retract for a copy that was never made: record a tombstone, change nothing else. */
	| { action: "null_compensation" }
	/** A retract for a delivered copy: retract it. */
	| { action: "retract_copy"; copy: BarrierRow };

export function barrierDecision(op: BarrierOp, rows: Partial<Record<BarrierOp, BarrierRow>>): BarrierDecision {
	const own = rows[op];
	if (own !== undefined) return { action: "replay", row: own };
	// An operator moderation's batch in this room: once, whatever else happened.
	if (op === "moderate") return { action: "apply" };
	if (op === "deliver") return rows.retract === undefined ? { action: "apply" } : { action: "refuse_late_delivery" };
	const deliver = rows.deliver;
	if (deliver === undefined || deliver.outcome !== "applied") return { action: "null_compensation" };
	return { action: "retract_copy", copy: deliver };
}
