/**
 * @module
 * What waits in the outbox (sends, edits, reactions), as the app sees it and as `storage` keeps
 * it. Pure functions, unit-tested on their own.
 *
 * The persisted format grew compatibly: a v1.1 queue is a JSON array of sends
 * `{ id, text, crossPost? }`, and still loads as one. An edit is kept as `{ id, edit: { msgId,
 * text } }` and a reaction as `{ id, react: { msgId, emoji, remove? } }`: neither has a
 * top-level `text`, so a client that predates them (an older tab of the same user) skips them
 * instead of posting an edit's text as a new message.
 */
import type { EditFrame, ReactFrame, SendFrame } from "../src/protocol.ts";

/** Every frame the outbox holds: each has a client `id`, is acked, deduplicated and ordered by `after`. */
export type OutFrame = SendFrame | EditFrame | ReactFrame;

/** A send waiting for its ack, as the app sees it. */
export interface PendingSend {
	id: string;
	text: string;
	crossPost?: string[];
	/** v1.3: the message it answers. */
	replyTo?: string;
}

/** v1.3: an edit or a reaction waiting for its ack. */
export type PendingChange =
	| { kind: "edit"; id: string; msgId: string; text: string }
	| { kind: "react"; id: string; msgId: string; emoji: string; remove: boolean };

/** The frame for a send; `crossPost` only when it names rooms, `replyTo` only when given. */
export function sendFrame(text: string, id: string, crossPost: readonly string[] | undefined, replyTo?: string | undefined): SendFrame {
	const frame: SendFrame = { type: "send", id, text };
	if (crossPost !== undefined && crossPost.length > 0) frame.crossPost = [...crossPost];
	if (replyTo !== undefined) frame.replyTo = replyTo;
	return frame;
}

export function editFrame(msgId: string, text: string, id: string): EditFrame {
	return { type: "edit", id, msgId, text };
}

/** `remove` is written only when true, so an add is the short frame. */
export function reactFrame(msgId: string, emoji: string, id: string, remove: boolean): ReactFrame {
	return remove ? { type: "react", id, msgId, emoji, remove: true } : { type: "react", id, msgId, emoji };
}

/** A queued send as the app sees it; undefined for edits and reactions. */
export function pendingSendOf(frame: OutFrame): PendingSend | undefined {
	if (frame.type !== "send") return undefined;
	const pending: PendingSend = { id: frame.id, text: frame.text };
	if (frame.crossPost !== undefined) pending.crossPost = [...frame.crossPost];
	if (frame.replyTo !== undefined) pending.replyTo = frame.replyTo;
	return pending;
}

/** A queued edit or reaction as the app sees it; undefined for sends. */
export function pendingChangeOf(frame: OutFrame): PendingChange | undefined {
	if (frame.type === "edit") return { kind: "edit", id: frame.id, msgId: frame.msgId, text: frame.text };
	if (frame.type === "react")
		return { kind: "react", id: frame.id, msgId: frame.msgId, emoji: frame.emoji, remove: frame.remove === true };
	return undefined;
}

/** One entry of the persisted queue (see the module comment). */
export type StoredEntry =
	| { id: string; text: string; crossPost?: string[]; replyTo?: string }
	| { id: string; edit: { msgId: string; text: string } }
	| { id: string; react: { msgId: string; emoji: string; remove?: true } };

/** The persisted form of a queued frame (without `after`: that is recomputed at every write). */
export function toStored(frame: OutFrame): StoredEntry {
	switch (frame.type) {
		case "send":
			return pendingSendOf(frame) as PendingSend;
		case "edit":
			return { id: frame.id, edit: { msgId: frame.msgId, text: frame.text } };
		case "react":
			return frame.remove === true
				? { id: frame.id, react: { msgId: frame.msgId, emoji: frame.emoji, remove: true } }
				: { id: frame.id, react: { msgId: frame.msgId, emoji: frame.emoji } };
	}
}

const isString = (value: unknown): value is string => typeof value === "string";
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/** One persisted entry back as a frame; undefined when it is not one this client understands. */
export function fromStored(value: unknown): OutFrame | undefined {
	if (!isRecord(value) || !isString(value.id)) return undefined;
	const { id } = value;
	if (isRecord(value.edit)) {
		const { msgId, text } = value.edit;
		return isString(msgId) && isString(text) ? editFrame(msgId, text, id) : undefined;
	}
	if (isRecord(value.react)) {
		const { msgId, emoji, remove } = value.react;
		return isString(msgId) && isString(emoji) ? reactFrame(msgId, emoji, id, remove === true) : undefined;
	}
	const { text, crossPost, replyTo } = value;
	if (!isString(text)) return undefined;
	if (crossPost !== undefined && !(Array.isArray(crossPost) && crossPost.every(isString))) return undefined;
	if (replyTo !== undefined && !isString(replyTo)) return undefined;
	return sendFrame(text, id, crossPost as string[] | undefined, replyTo);
}

/**
 * A persisted queue, read leniently: anything unreadable counts as empty, and entries this
 * client does not understand are skipped (a newer client may have written them). Returns the
 * raw entries too, so a writer can keep the ones it skipped.
 */
export function parseStored(
	raw: string | null | undefined,
): Array<{ entry: unknown; frame: OutFrame | undefined; id: string | undefined }> {
	if (raw === null || raw === undefined) return [];
	let parsed: unknown;
	try {
		parsed = JSON.parse(raw);
	} catch {
		return [];
	}
	if (!Array.isArray(parsed)) return [];
	return parsed.map((entry: unknown) => ({
		entry,
		frame: fromStored(entry),
		id: isRecord(entry) && isString(entry.id) ? entry.id : undefined,
	}));
}
