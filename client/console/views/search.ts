/**
 * @module
 * The search box in the top bar: a message, saga, task, moderation or trace id, a
 * `traceparent`, `room/msgId`, or a room id. The server says what it found
 * (`GET /v1/admin/search`) and the console opens the view for it.
 */
import { searchCandidates } from "../../../src/ops/search.ts";
import { api, ApiError, messageOf } from "../api.ts";
import { byId } from "../../dom.ts";
import type { SearchAnswer, SearchHit } from "../wire.ts";
import { hideBanner } from "./banner.ts";
import { openModeration, openOwner, openRoom, openSaga, openTrace } from "./detail.ts";
import { signOutIfRefused } from "./signin.ts";

function say(text: string, kind: "error" | "ok" | "" = ""): void {
	const note = byId("search-note");
	note.textContent = text;
	note.dataset.kind = kind;
	note.hidden = text === "";
}

/** Opens the view a hit belongs in. */
export function openHit(hit: SearchHit): void {
	if (hit.kind === "trace") openTrace({ traceId: hit.traceId, fields: [["Rooms", hit.rooms.join(", ")]] });
	else if (hit.kind === "saga") openSaga(hit.sagaId, "");
	else if (hit.kind === "task") openOwner(hit.sagaId, hit.taskId);
	else if (hit.kind === "moderation") openModeration(hit.id, "");
	// A cross-posted message is best read in its saga; a plain one on its room's page.
	else if (hit.kind === "message") {
		if (hit.sagaId !== undefined) openSaga(hit.sagaId, "");
		else openRoom(hit.room, hit.msgId);
	} else openRoom(hit.room);
}

const KIND_TEXT: Record<SearchHit["kind"], string> = {
	trace: "trace",
	saga: "saga",
	task: "task",
	moderation: "moderation",
	message: "message",
	room: "room",
};

export async function runSearch(text: string): Promise<void> {
	const form = byId("search-form");
	const query = text.trim();
	// The tests (and styles) read the outcome from data-hit: pending, a kind, or none.
	form.dataset.hit = "pending";
	if (query === "") {
		form.dataset.hit = "none";
		return say("");
	}
	if (searchCandidates(query).length === 0) {
		form.dataset.hit = "none";
		return say("Not an id this console knows: a message, saga, task, moderation or trace id, room/msgId, or a room.", "error");
	}
	say("searching…");
	try {
		const answer = await api<SearchAnswer>(`/v1/admin/search?q=${encodeURIComponent(query)}`);
		form.dataset.hit = answer.hit.kind;
		say(`Found a ${KIND_TEXT[answer.hit.kind]}.`, "ok");
		hideBanner("Search");
		openHit(answer.hit);
	} catch (error) {
		if (signOutIfRefused(error)) return;
		form.dataset.hit = "none";
		say(error instanceof ApiError && error.status === 404 ? error.message : `Search failed: ${messageOf(error)}`, "error");
	}
}

export function wireSearch(): void {
	const input = byId("search", HTMLInputElement);
	byId("search-form").addEventListener("submit", (event) => {
		event.preventDefault();
		void runSearch(input.value);
	});
	// "/" focuses the box from anywhere but a text field.
	document.addEventListener("keydown", (event) => {
		const target = event.target;
		if (event.key !== "/" || target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
		event.preventDefault();
		input.focus();
		input.select();
	});
}
