/**
 * @module
 * How the chat page folds later events into a message it shows: edits (newest text wins, by
 * seq) and reactions (counts per emoji, `mine` for the reader). Pure; the page keeps one
 * `ReactionState` per message and re-renders its chips from it.
 */
import type { MessageEditedEvent, ReactionCount, ReactionEvent } from "../src/protocol.ts";

/** The emoji the picker offers; any other (one grapheme or `:name:`) still shows as a chip. */
export const QUICK_REACTIONS: readonly string[] = ["👍", "❤️", "😂", "🎉", "😮", "👀"];

/**
 * Whether an edit event changes a message whose text already reflects edits up to `editSeq`:
 * only a later one does, so a replayed or repeated edit never puts older text back.
 */
export function isNewerEdit(message: { editSeq?: number }, edit: Pick<MessageEditedEvent, "seq">): boolean {
	return edit.seq > (message.editSeq ?? 0);
}

/**
 * A message's reactions and the seq they are counted up to: a replayed or paged message
 * carries the counts as they were when the server read them, so reaction events up to then
 * are in them already and must not be counted twice.
 */
export interface ReactionState {
	counts: readonly ReactionCount[];
	/** Reaction events with a seq up to this one are already counted. */
	asOf: number;
}

/** The state of a message as it arrived: its own counts (if any) as of `asOf`. */
export function initialReactions(counts: readonly ReactionCount[] | undefined, asOf: number): ReactionState {
	return { counts: (counts ?? []).filter((entry) => entry.count > 0).map((entry) => ({ ...entry })), asOf };
}

/**
 * Applies one reaction event; returns the same state when it is already counted. An emoji
 * keeps its place (first reacted first); one whose count falls to zero is dropped.
 */
export function applyReaction(state: ReactionState, event: ReactionEvent, me: string | undefined): ReactionState {
	if (event.seq <= state.asOf) return state;
	const mine = event.user.id === me;
	const adding = event.type === "reaction.added";
	const index = state.counts.findIndex((entry) => entry.emoji === event.emoji);
	const counts = state.counts.slice();
	const current = counts[index];
	if (current === undefined) {
		if (adding) counts.push({ emoji: event.emoji, count: 1, mine });
	} else {
		const count = current.count + (adding ? 1 : -1);
		if (count <= 0) counts.splice(index, 1);
		else counts[index] = { emoji: current.emoji, count, mine: mine ? adding : current.mine };
	}
	return { counts, asOf: event.seq };
}

/** Whether the reader has reacted with `emoji`: a chip's pressed state, and add or remove on click. */
export function reactedWith(state: ReactionState, emoji: string): boolean {
	return state.counts.some((entry) => entry.emoji === emoji && entry.mine);
}
