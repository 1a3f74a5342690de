/**
 * @module
 * The chat page's view across rooms (v1.4): the room list with an unread and a mention badge per
 * room (DMs by the other user's name), the mentions view with "load older", the "start a DM"
 * form, and the unread total in the tab title. Fed by one InboxClient per identity, which stays
 * open while the user moves between rooms; page.ts only tells it who the user is, which room is
 * open and how far they read there.
 *
 * Everything from the network goes in with textContent; no inline style or script (the page
 * runs under a strict CSP). Rooms are opened the way the page opens any room: through the URL
 * hash, which page.ts follows.
 */
import type { ParleyClient } from "./index.ts";
import { InboxClient } from "./inbox.ts";
import type { InboxStatusEvent } from "./inbox.ts";
import { badgeText, labelIn, previewText, roomLabel, titleText } from "./inbox-state.ts";
import type { InboxView } from "./inbox-state.ts";
import type { InboxRoom, Mention } from "../src/inbox-protocol.ts";
import { byId, el, userText } from "./dom.ts";

type Identity = { guest: string } | { token: string };

const BASE_TITLE = "Parley";

const ui = {
	panel: byId("inbox"),
	toggle: byId("inbox-toggle", HTMLButtonElement),
	toggleBadge: byId("inbox-toggle-badge"),
	tabRooms: byId("tab-rooms", HTMLButtonElement),
	tabMentions: byId("tab-mentions", HTMLButtonElement),
	tabRoomsBadge: byId("tab-rooms-badge"),
	tabMentionsBadge: byId("tab-mentions-badge"),
	roomsPanel: byId("rooms-panel"),
	mentionsPanel: byId("mentions-panel"),
	roomList: byId("room-list"),
	mentionList: byId("mention-list"),
	mentionsOlder: byId("mentions-older", HTMLButtonElement),
	dmForm: byId("dm-form", HTMLFormElement),
	dmUser: byId("dm-user", HTMLInputElement),
	dmError: byId("dm-error"),
	status: byId("inbox-status"),
	roomTitle: byId("room-title"),
};

const STATUS_TEXT: Partial<Record<InboxStatusEvent["state"], string>> = {
	connecting: "Updating…",
	syncing: "Updating…",
	reconnecting: "Reconnecting…",
	offline: "Offline",
	unauthorized: "Room list unavailable: sign-in refused",
	forbidden: "Room list unavailable",
	rejected: "Room list unavailable",
};

function relativeTime(ts: number): string {
	const date = new Date(ts);
	const today = new Date();
	return date.toDateString() === today.toDateString()
		? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
		: date.toLocaleDateString([], { month: "short", day: "numeric" });
}

/** The room list, mentions and DM form of the page; one per page, fed with a new InboxClient per identity. */
class InboxPanel {
	#client: InboxClient | undefined;
	#identityKey: string | undefined;
	#current: string | undefined;
	#offClient: Array<() => void> = [];
	#offRoom: (() => void) | undefined;
	#wired = false;

	/**
	 * Shows the panel for `identity`, in `room`, following the room client's read state. Guests
	 * have none: a guest name is not an identity of one's own (anyone may join as it), so its
	 * mentions and DMs would not be either.
	 */
	show(identity: Identity, room: string, roomClient: ParleyClient): void {
		if ("guest" in identity) {
			this.hide();
			return;
		}
		this.#wire();
		const key = JSON.stringify(identity);
		if (key !== this.#identityKey) this.#start(identity, key);
		this.#current = room;
		this.#offRoom?.();
		this.#offRoom = roomClient.on("read", (read) => this.#client?.noteRead(room, read));
		ui.panel.hidden = false;
		ui.toggle.hidden = false;
		this.#render();
	}

	/** The user left: no room list until they join again. */
	hide(): void {
		this.#offRoom?.();
		this.#offRoom = undefined;
		this.#stop();
		this.#current = undefined;
		ui.panel.hidden = true;
		ui.toggle.hidden = true;
		document.title = BASE_TITLE;
	}

	suspend(): void {
		this.#client?.suspend();
	}

	resume(): void {
		this.#client?.resume();
	}

	#start(identity: Identity, key: string): void {
		this.#stop();
		this.#identityKey = key;
		const client = new InboxClient({ url: location.origin, ...identity, heartbeatIntervalMs: 15_000, heartbeatTimeoutMs: 7_000 });
		this.#client = client;
		this.#offClient.push(
			client.on("inbox", () => this.#render()),
			client.on("status", (status) => {
				ui.status.textContent = STATUS_TEXT[status.state] ?? "";
				ui.panel.dataset.state = status.state;
			}),
		);
		if (!navigator.onLine) client.suspend();
		void client.connect().catch(() => undefined);
	}

	#stop(): void {
		for (const off of this.#offClient) off();
		this.#offClient = [];
		this.#client?.close();
		this.#client = undefined;
		this.#identityKey = undefined;
		ui.roomList.replaceChildren();
		ui.mentionList.replaceChildren();
		ui.status.textContent = "";
	}

	#wire(): void {
		if (this.#wired) return;
		this.#wired = true;
		ui.tabRooms.addEventListener("click", () => this.#selectTab("rooms"));
		ui.tabMentions.addEventListener("click", () => this.#selectTab("mentions"));
		// Arrow keys move between the two tabs, as a tablist does.
		for (const tab of [ui.tabRooms, ui.tabMentions]) {
			tab.addEventListener("keydown", (event) => {
				if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
				event.preventDefault();
				const next = tab === ui.tabRooms ? "mentions" : "rooms";
				this.#selectTab(next);
				(next === "rooms" ? ui.tabRooms : ui.tabMentions).focus();
			});
		}
		ui.toggle.addEventListener("click", () => {
			const open = ui.panel.dataset.open !== "true";
			ui.panel.dataset.open = String(open);
			ui.toggle.setAttribute("aria-expanded", String(open));
		});
		ui.mentionsOlder.addEventListener("click", () => {
			const client = this.#client;
			if (client === undefined) return;
			ui.mentionsOlder.disabled = true;
			client
				.loadOlderMentions()
				.catch(() => {
					ui.status.textContent = "Could not load older mentions.";
				})
				.finally(() => {
					ui.mentionsOlder.disabled = false;
					this.#render();
				});
		});
		ui.dmForm.addEventListener("submit", (event) => {
			event.preventDefault();
			void this.#openDm(ui.dmUser.value.trim());
		});
	}

	async #openDm(user: string): Promise<void> {
		const client = this.#client;
		this.#dmError("");
		if (client === undefined) return;
		if (user === "") {
			this.#dmError("Enter the user id of the person to write to.");
			return;
		}
		try {
			const dm = await client.openDm(user);
			ui.dmUser.value = "";
			this.#open(dm.room);
		} catch (error) {
			const code = (error as { code?: unknown }).code;
			this.#dmError(
				code === "not_found"
					? `No user ${user}.`
					: code === "bad_request" || code === "forbidden"
						? `You cannot start a DM with ${user}.`
						: "Could not open the DM; try again.",
			);
		}
	}

	#dmError(text: string): void {
		ui.dmError.textContent = text;
		ui.dmError.hidden = text === "";
	}

	#selectTab(tab: "rooms" | "mentions"): void {
		const rooms = tab === "rooms";
		ui.tabRooms.setAttribute("aria-selected", String(rooms));
		ui.tabMentions.setAttribute("aria-selected", String(!rooms));
		ui.tabRooms.tabIndex = rooms ? 0 : -1;
		ui.tabMentions.tabIndex = rooms ? -1 : 0;
		ui.roomsPanel.hidden = !rooms;
		ui.mentionsPanel.hidden = rooms;
	}

	/** Opens a room the way the page does: through the hash, which page.ts follows. */
	#open(room: string): void {
		if (room === this.#current) return;
		location.hash = room;
		// On a narrow screen the list covers the room: close it once a room is chosen.
		ui.panel.dataset.open = "false";
		ui.toggle.setAttribute("aria-expanded", "false");
	}

	#render(): void {
		const view = this.#client?.inbox;
		if (view === undefined) return;
		document.title = titleText(view.unreadTotal, BASE_TITLE);
		const total = badgeText(view.unreadTotal);
		ui.tabRoomsBadge.textContent = total;
		ui.tabRoomsBadge.hidden = total === "";
		ui.toggleBadge.textContent = total;
		ui.toggleBadge.hidden = total === "";
		const mentions = badgeText(view.mentionTotal);
		ui.tabMentionsBadge.textContent = mentions;
		ui.tabMentionsBadge.hidden = mentions === "";
		// The lists are rebuilt on every change: keep the keyboard where it was.
		const focused = document.activeElement?.closest<HTMLElement>("li.room-item, li.mention-item");
		const refocus =
			focused === null || focused === undefined
				? undefined
				: { kind: focused.className, room: focused.dataset.room, msgId: focused.dataset.msgId };
		ui.roomList.replaceChildren(...view.rooms.map((room) => this.#roomItem(room)));
		if (view.rooms.length === 0) ui.roomList.append(el("li", "inbox-empty", "No rooms yet."));
		ui.mentionList.replaceChildren(...view.mentions.map((mention) => this.#mentionItem(mention, view)));
		if (view.mentions.length === 0) ui.mentionList.append(el("li", "inbox-empty", "No mentions."));
		ui.mentionsOlder.hidden = view.before === undefined;
		if (refocus !== undefined) {
			const list = refocus.kind.includes("room-item") ? ui.roomList : ui.mentionList;
			const again = [...list.querySelectorAll<HTMLElement>("li")].find(
				(li) => li.dataset.room === refocus.room && li.dataset.msgId === refocus.msgId,
			);
			again?.querySelector("button")?.focus();
		}
		// A DM's id says nothing: the top bar names the other user instead.
		const open = view.rooms.find((room) => room.room === this.#current);
		if (open?.kind === "dm") ui.roomTitle.textContent = roomLabel(open);
	}

	#roomItem(room: InboxRoom): HTMLElement {
		const li = el("li", "room-item");
		li.dataset.room = room.room;
		li.dataset.kind = room.kind;
		const button = el("button", "room-link");
		const current = room.room === this.#current;
		if (current) button.setAttribute("aria-current", "page");
		const name = userText("span", "room-name", roomLabel(room));
		const preview = userText("span", "room-preview", previewText(room.last));
		const unread = el("span", "count count-unread", badgeText(room.unread));
		unread.hidden = room.unread === 0;
		const mention = el("span", "count count-mention", badgeText(room.mentions));
		mention.hidden = room.mentions === 0;
		// The badges are for the eye; the label says it in words.
		unread.setAttribute("aria-hidden", "true");
		mention.setAttribute("aria-hidden", "true");
		const words = [roomLabel(room)];
		if (room.unread > 0) words.push(`${badgeText(room.unread)} unread`);
		if (room.mentions > 0) words.push(`${badgeText(room.mentions)} mention${room.mentions === 1 ? "" : "s"}`);
		button.setAttribute("aria-label", words.join(", "));
		if (room.unread > 0) li.classList.add("has-unread");
		button.append(name, unread, mention, preview);
		button.addEventListener("click", () => this.#open(room.room));
		li.append(button);
		return li;
	}

	#mentionItem(mention: Mention, view: InboxView): HTMLElement {
		const li = el("li", "mention-item");
		li.dataset.room = mention.room;
		li.dataset.msgId = mention.msgId;
		const button = el("button", "mention-link");
		const room = labelIn(view, mention.room);
		const head = el("span", "mention-head");
		head.append(el("span", "mention-room", room), " ", userText("span", "mention-author", mention.author.name));
		const time = el("time", "mention-time", relativeTime(mention.ts));
		time.dateTime = new Date(mention.ts).toISOString();
		const text = userText("span", "mention-excerpt", mention.excerpt);
		button.setAttribute("aria-label", `${mention.author.name} in ${room}: ${mention.excerpt}`);
		button.append(head, time, text);
		button.addEventListener("click", () => this.#open(mention.room));
		li.append(button);
		return li;
	}
}

export const inboxPanel = new InboxPanel();
