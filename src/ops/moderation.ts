/**
 * @module
 * Operator moderation (a bulk retract): the request (a selector of messages, a reason, a
 * dry-run flag), its parser, and the shapes of a plan, of a moderation's record and progress,
 * and of the list the ops index keeps of them.
 */
import { type Failure, fail, ok, type Result } from "../errors.ts";
import { codePointLength, isRoomId, type SagaState } from "../protocol.ts";
import type { TaskView } from "../saga/types.ts";

export interface Selector {
	author?: string;
	room?: string;
	/** Unix ms, inclusive. */
	from?: number;
	to?: number;
	msgIds?: string[];
}

export interface ModerationRequest {
	selector: Selector;
	action: "retract";
	reason: string;
	dryRun: boolean;
}

/** A room never gets more than this many messages in one moderation: narrow the selector. */
export const MAX_MESSAGES_PER_ROOM = 2000;
export const MAX_MSG_IDS = 500;

/** What one room would retract, and where copies of those messages live. */
export interface RoomPlan {
	room: string;
	msgIds: string[];
	/** Cross-posted copies of the matched messages, by target room. */
	copies: Array<{ room: string; sagaId: string }>;
	/** True when the room holds more matches than MAX_MESSAGES_PER_ROOM. */
	truncated: boolean;
}

/** What a moderation object is started with: its record and the plan fixed at creation. */
export interface ModerationStart {
	id: string;
	actor: string;
	reason: string;
	traceId: string;
	selector: Selector;
	/** The rooms claim of a scoped admin who made it (see ModerationView). */
	scope?: string[];
	plan: RoomPlan[];
}

/**
 * Progress of a moderation. Copies of cross-posted messages are retracted by their origin
 * rooms' sagas (each turned to compensating), so they are counted in compensated sagas.
 */
export interface ModerationProgress {
	matched: { messages: number; copies: number; rooms: number };
	done: { messages: number; alreadyGone: number; rooms: number; sagasCompensated: number };
	failed: { rooms: number };
}

/** `GET /v1/admin/moderations/{id}` (without its audit entries). */
export interface ModerationView {
	id: string;
	actor: string;
	reason: string;
	traceId: string;
	selector: Selector;
	/**
	 * The rooms claim of the scoped admin who made it; absent for a global admin. A selector
	 * without a room reached only the author's rooms within this claim.
	 */
	scope?: string[];
	/** `running`, `done`, or `attention` while a room's task has failed. */
	state: string;
	createdAt: number;
	updatedAt: number;
	progress: ModerationProgress;
	tasks: TaskView[];
}

/**
 * A moderation as the ops index keeps it, fed by its object: the record without its selector
 * and plan, in the outbox's terms (`state` is `running` or `succeeded`), and its tasks' rooms.
 */
export interface ModerationRecord {
	id: string;
	actor: string;
	reason: string;
	traceId: string;
	state: SagaState;
	rooms: string[];
	createdAt: number;
	updatedAt: number;
}

/** One entry of `GET /v1/admin/moderations`: the index's record, with `state` `running` or `done`. */
export interface ModerationSummary extends Omit<ModerationRecord, "state"> {
	state: string;
}

const bad = (message: string): Failure => fail("bad_request", message);

function time(value: unknown, name: string): Result<number | undefined> {
	if (value === undefined) return ok(undefined);
	if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
		return bad(`\`selector.${name}\` must be Unix milliseconds`);
	return ok(value);
}

/**
 * Parses a moderation request. At least one of author, room or msgIds is required (an
 * unbounded selector is refused), and message ids name messages of one room.
 */
export function parseModerationRequest(body: Record<string, unknown>): Result<ModerationRequest> {
	if (body.action !== "retract") return bad('`action` must be "retract"');
	if (body.dryRun !== undefined && typeof body.dryRun !== "boolean") return bad("`dryRun` must be a boolean");
	const dryRun = body.dryRun === true;
	// A preview changes nothing, so it needs no reason; a real run always does.
	const reason = typeof body.reason === "string" ? body.reason.trim() : "";
	if ((!dryRun || reason !== "") && (codePointLength(reason) < 1 || codePointLength(reason) > 500)) {
		return bad("a `reason` of 1..500 chars is required");
	}
	const raw = body.selector;
	if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return bad("`selector` must be an object");
	const input = raw as Record<string, unknown>;
	const selector: Selector = {};
	if (input.author !== undefined) {
		if (typeof input.author !== "string" || codePointLength(input.author) < 1 || codePointLength(input.author) > 64) {
			return bad("`selector.author` must be a user id");
		}
		selector.author = input.author;
	}
	if (input.room !== undefined) {
		if (!isRoomId(input.room)) return bad("`selector.room` must be a room id");
		selector.room = input.room;
	}
	for (const name of ["from", "to"] as const) {
		const value = time(input[name], name);
		if (!value.ok) return value;
		if (value.value !== undefined) selector[name] = value.value;
	}
	if (selector.from !== undefined && selector.to !== undefined && selector.from > selector.to) {
		return bad("`selector.from` must not be after `selector.to`");
	}
	if (input.msgIds !== undefined) {
		const ids = input.msgIds;
		if (
			!Array.isArray(ids) ||
			ids.length < 1 ||
			ids.length > MAX_MSG_IDS ||
			!ids.every((id) => typeof id === "string" && id.length > 0 && id.length <= 64)
		) {
			return bad(`\`selector.msgIds\` must be 1..${MAX_MSG_IDS} message ids`);
		}
		if (selector.room === undefined) return bad("`selector.msgIds` name messages of one room: give `selector.room` too");
		selector.msgIds = [...new Set(ids as string[])];
	}
	if (selector.author === undefined && selector.room === undefined) {
		return bad("an unbounded selector is refused: give at least one of author, room or msgIds");
	}
	return ok({ selector, action: "retract", reason, dryRun });
}
