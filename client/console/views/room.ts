/**
 * @module
 * The room page (detail pane): the room's policy (read-only, guests banned, banned users) with
 * a form to change it, a reason required for the audit log, and the room's past policy changes.
 * The form is drawn when the page opens and after a save, never by the poll, so what the
 * operator is typing is not wiped.
 */
import { codePointLength, isRoomId } from "../../../src/protocol.ts";
import { policyTarget } from "../../../src/ops/policy-audit.ts";
import { api, messageOf } from "../api.ts";
import { byId, clear, h } from "../../dom.ts";
import { str } from "../format.ts";
import { app, isReadOnly } from "../state.ts";
import { REASON_MAX, reasonRefusal } from "../vocab.ts";
import type { AuditEntry, AuditList, RoomPolicy } from "../wire.ts";
import { showBanner } from "./banner.ts";
import { detailHead, field, mono, relTime, timeCell } from "./parts.ts";
import { setView } from "./list.ts";

/** What the form holds before it is saved. */
interface Draft {
	readOnly: boolean;
	banGuests: boolean;
	banned: string[];
}

let draft: Draft = { readOnly: false, banGuests: false, banned: [] };

function formError(text: string | null): void {
	const error = byId("policy-error");
	error.textContent = text ?? "";
	error.hidden = text === null;
}

function drawBanned(): void {
	const list = byId("policy-banned");
	clear(list);
	if (draft.banned.length === 0) list.appendChild(h("li", { class: "muted" }, "nobody is banned"));
	for (const user of draft.banned) {
		list.appendChild(
			h(
				"li",
				{ dataset: { user } },
				h("span", { class: "mono" }, user),
				" ",
				h(
					"button",
					{
						type: "button",
						class: "ghost small write-only",
						dataset: { unban: user },
						onclick: () => {
							draft.banned = draft.banned.filter((u) => u !== user);
							drawBanned();
						},
					},
					"Unban",
				),
			),
		);
	}
}

function addBan(): void {
	const input = byId("policy-ban-user", HTMLInputElement);
	const user = input.value.trim();
	if (user === "" || codePointLength(user) > 64) {
		formError("A user id is 1–64 characters (the token's sub).");
		return;
	}
	if (!draft.banned.includes(user)) draft.banned = [...draft.banned, user];
	input.value = "";
	formError(null);
	drawBanned();
}

async function save(room: string, onSaved: () => void): Promise<void> {
	const reason = byId("policy-reason", HTMLTextAreaElement).value.trim();
	const refusal = reasonRefusal(reason);
	if (refusal !== undefined) return formError(refusal);
	const button = byId("policy-save", HTMLButtonElement);
	button.disabled = true;
	try {
		const saved = await api<RoomPolicy>(`/v1/admin/rooms/${encodeURIComponent(room)}/policy`, {
			method: "PUT",
			body: { readOnly: draft.readOnly, banGuests: draft.banGuests, banned: draft.banned, reason },
		});
		showBanner(
			`Room ${room}: policy saved (${saved.readOnly ? "read-only" : "writable"}, ${saved.banned.length} banned). The change is in the audit log.`,
			"ok",
			"Room",
		);
		onSaved();
	} catch (error) {
		formError(`Not saved: ${messageOf(error)}`);
	} finally {
		button.disabled = false;
	}
}

function auditRows(entries: readonly AuditEntry[]): HTMLElement {
	if (entries.length === 0)
		return h("p", { class: "muted" }, "No policy change recorded for this room yet (the newest 100 audit entries were searched).");
	return h(
		"table",
		{ class: "grid", id: "policy-audit" },
		h(
			"thead",
			null,
			h(
				"tr",
				null,
				["When", "Who", "From → to", "Reason"].map((c) => h("th", { scope: "col" }, c)),
			),
		),
		h(
			"tbody",
			null,
			entries.map((e) =>
				h(
					"tr",
					{ dataset: { actor: e.actor } },
					h("td", null, timeCell(e.at), " ", relTime(e.at)),
					h("td", null, mono(e.actor)),
					h("td", null, `${e.from} → ${e.to}`),
					h("td", null, str(e.reason)),
				),
			),
		),
	);
}

/** Draws the room page into `body`; `onSaved` reloads it. */
export function renderRoom(
	body: HTMLElement,
	room: string,
	policy: RoomPolicy,
	audit: readonly AuditEntry[],
	msgId: string,
	close: () => void,
	onSaved: () => void,
): void {
	draft = { readOnly: policy.readOnly, banGuests: policy.banGuests === true, banned: [...policy.banned] };
	const readOnlyMode = isReadOnly();
	body.appendChild(detailHead({ title: "Room", id: { text: room, elementId: "room-id" }, close }));
	body.appendChild(
		h(
			"dl",
			{ class: "fields" },
			field(
				"State",
				h(
					"span",
					{ id: "room-policy-state", dataset: { readOnly: String(policy.readOnly) } },
					policy.readOnly ? "read-only" : "writable",
				),
				policy.banGuests === true ? " · guests banned" : "",
			),
			field("Banned", `${policy.banned.length}`),
			msgId === "" ? null : field("Found", mono(msgId), h("span", { class: "muted" }, " (a message of this room, from the search)")),
		),
	);
	body.appendChild(
		h(
			"div",
			{ class: "row-start" },
			h("button", { type: "button", class: "ghost small", onclick: () => setView("tasks", { room }) }, "Tasks of this room"),
			h("button", { type: "button", class: "ghost small", onclick: () => setView("sagas", { room }) }, "Sagas of this room"),
		),
	);
	body.appendChild(h("h3", null, "Policy"));
	const form = h(
		"form",
		{ id: "policy-form", class: "policy-form", novalidate: true },
		h(
			"label",
			{ class: "check" },
			h("input", { id: "policy-readonly", type: "checkbox", disabled: readOnlyMode }),
			" Read-only (nobody but admins may post)",
		),
		h("label", { class: "check" }, h("input", { id: "policy-ban-guests", type: "checkbox", disabled: readOnlyMode }), " Ban guests"),
		h("div", null, h("span", { class: "muted" }, "Banned users"), h("ul", { id: "policy-banned", class: "banned-list" })),
		h(
			"div",
			{ class: "row-start write-only" },
			h("input", { id: "policy-ban-user", type: "text", spellcheck: "false", autocomplete: "off", placeholder: "user id to ban" }),
			h("button", { id: "policy-ban-add", type: "button", class: "ghost small", onclick: addBan }, "Ban user"),
		),
		h(
			"label",
			{ for: "policy-reason", class: "write-only" },
			"Reason ",
			h("span", { class: "muted" }, `(required, 1–${REASON_MAX} characters; recorded in the audit log)`),
		),
		h("textarea", { id: "policy-reason", rows: 2, class: "write-only" }),
		h("p", { id: "policy-error", class: "form-error", role: "alert", hidden: true }),
		h("div", { class: "row-end write-only" }, h("button", { id: "policy-save", type: "submit" }, "Save policy")),
	);
	body.appendChild(form);
	body.appendChild(h("h3", null, "Policy changes"));
	body.appendChild(auditRows(audit));
	const readOnlyBox = byId("policy-readonly", HTMLInputElement);
	readOnlyBox.checked = draft.readOnly;
	readOnlyBox.addEventListener("change", () => (draft.readOnly = readOnlyBox.checked));
	const guests = byId("policy-ban-guests", HTMLInputElement);
	guests.checked = draft.banGuests;
	guests.addEventListener("change", () => (draft.banGuests = guests.checked));
	byId("policy-ban-user", HTMLInputElement).addEventListener("keydown", (event) => {
		if (event.key === "Enter") {
			event.preventDefault();
			addBan();
		}
	});
	form.addEventListener("submit", (event) => {
		event.preventDefault();
		if (!isReadOnly()) void save(room, onSaved);
	});
	drawBanned();
	if (readOnlyMode) for (const el of body.querySelectorAll<HTMLElement>(".write-only")) el.hidden = true;
}

/** The room's policy and its policy changes among the newest audit entries. */
export async function loadRoom(room: string): Promise<{ policy: RoomPolicy; audit: AuditEntry[] }> {
	if (!isRoomId(room)) throw new Error(`"${room}" is not a room id`);
	const [policy, log] = await Promise.all([
		api<RoomPolicy>(`/v1/admin/rooms/${encodeURIComponent(room)}/policy`),
		api<AuditList>("/v1/admin/audit?limit=100").catch(() => ({ entries: [] })),
	]);
	return { policy, audit: log.entries.filter((e) => e.taskId === policyTarget(room)) };
}

/** Whether the room page is the open detail (the poll leaves it alone). */
export function roomOpen(): boolean {
	return app.detail.open?.kind === "room";
}
