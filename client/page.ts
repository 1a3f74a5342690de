/**
 * The chat page (`/`), bundled with the client library into public/app.js by
 * scripts/build-client.mjs.
 *
 * The room lives in the URL hash (`/#lobby`) and the identity in sessionStorage (per tab, kept
 * across reloads, never in the URL where a token would leak through shared links), so a reload
 * rejoins. Every piece of user data is rendered with textContent.
 */
import { ParleyClient, newClientId } from "./index.ts";
import type { ChatMessage, ConnectionState, ParleyClientError, RetractEvent, SagaFrame, StatusEvent } from "./index.ts";
import { isRoomId } from "../src/protocol.ts";
import { browser, byId, el } from "./dom.ts";
import type { DomControl, DomElement } from "./dom.ts";

type Identity = { guest: string } | { token: string };

const IDENTITY_KEY = "parley.identity";
const HISTORY_PAGE = 50;

const ui = {
	roomTitle: byId("room-title"),
	status: byId("status"),
	leave: byId<DomControl>("leave"),
	banner: byId("banner"),
	bannerText: byId("banner-text"),
	bannerAction: byId<DomControl>("banner-action"),
	join: byId("join"),
	joinForm: byId("join-form"),
	joinRoom: byId<DomControl>("join-room"),
	joinMode: byId<DomControl>("join-mode"),
	guestField: byId("guest-field"),
	joinGuest: byId<DomControl>("join-guest"),
	tokenField: byId("token-field"),
	joinToken: byId<DomControl>("join-token"),
	joinError: byId("join-error"),
	chat: byId("chat"),
	scroller: byId("scroller"),
	loadOlder: byId<DomControl>("load-older"),
	timeline: byId("timeline"),
	outgoing: byId("outgoing"),
	online: byId("online"),
	composer: byId("composer"),
	text: byId<DomControl>("text"),
	crossPost: byId<DomControl>("cross-post"),
	send: byId<DomControl>("send"),
	notice: byId("notice"),
};

// ---------------------------------------------------------------------------------------
// Identity and URL
// ---------------------------------------------------------------------------------------

function loadIdentity(): Identity | undefined {
	const raw = browser.sessionStorage.getItem(IDENTITY_KEY);
	if (raw === null) return undefined;
	try {
		const value = JSON.parse(raw) as { guest?: unknown; token?: unknown };
		if (typeof value.guest === "string") return { guest: value.guest };
		if (typeof value.token === "string") return { token: value.token };
	} catch {
		// Corrupt entry: fall through to the join form.
	}
	return undefined;
}

function roomFromHash(): string | undefined {
	const room = decodeURIComponent(browser.location.hash.replace(/^#\/?/, ""));
	return isRoomId(room) ? room : undefined;
}

// ---------------------------------------------------------------------------------------
// One joined room
// ---------------------------------------------------------------------------------------

interface MessageView {
	li: DomElement;
	message: ChatMessage;
	note: DomElement;
}

interface SagaView {
	targets: string[];
	state: string;
	detail: string;
}

const STATUS_TEXT: Record<ConnectionState, string> = {
	idle: "Not connected",
	connecting: "Connecting…",
	syncing: "Catching up…",
	live: "Live",
	reconnecting: "Reconnecting…",
	offline: "Offline",
	closed: "Left",
	unauthorized: "Refused",
	forbidden: "No access",
	rejected: "Refused",
};

class Session {
	readonly room: string;
	readonly client: ParleyClient;
	readonly #views = new Map<string, MessageView>();
	/** Retracts seen for messages not (yet) on screen, applied if an older page brings them. */
	readonly #retracted = new Map<string, RetractEvent["reason"]>();
	/** Cross-posts by sagaId, and the message each belongs to. */
	readonly #sagas = new Map<string, SagaView>();
	readonly #sagaOf = new Map<string, string>();
	readonly #earlySagas = new Map<string, SagaFrame>();
	#oldestSeq: number | undefined;
	#countdown: ReturnType<typeof setInterval> | undefined;
	readonly #unsubscribe: Array<() => void> = [];

	constructor(room: string, identity: Identity) {
		this.room = room;
		this.client = new ParleyClient({ url: browser.location.origin, room, ...identity, heartbeatIntervalMs: 15_000, heartbeatTimeoutMs: 7_000 });
		const { client } = this;
		this.#unsubscribe.push(
			client.on("message", (message) => this.#onMessage(message)),
			client.on("retract", (retract) => this.#onRetract(retract)),
			client.on("welcome", () => this.#renderOnline()),
			client.on("presence", () => this.#renderOnline()),
			client.on("saga", (saga) => this.#onSaga(saga)),
			client.on("status", (status) => this.#onStatus(status)),
			client.on("synced", () => this.#onSynced()),
			client.on("error", (error) => this.#onError(error)),
		);
		if (!browser.navigator.onLine) client.suspend();
		void client.connect().catch(() => undefined);
	}

	dispose(): void {
		for (const off of this.#unsubscribe) off();
		clearInterval(this.#countdown);
		this.client.close();
	}

	// --- incoming -----------------------------------------------------------------------

	#onMessage(message: ChatMessage): void {
		if (this.#views.has(message.msgId)) return;
		const stick = this.#atBottom();
		const view = this.#renderMessage(message);
		ui.timeline.append(view.li);
		this.#noteSeq(message.seq);
		this.#renderSaga(message.msgId);
		if (stick) this.#scrollToBottom();
	}

	#onRetract(retract: RetractEvent): void {
		this.#noteSeq(retract.seq);
		const view = this.#views.get(retract.msgId);
		if (view === undefined) this.#retracted.set(retract.msgId, retract.reason);
		else this.#markRemoved(view, retract.reason);
	}

	#onSynced(): void {
		ui.loadOlder.hidden = this.#oldestSeq === undefined ? this.client.lastSeq === 0 : this.#oldestSeq <= 1;
		if (this.#atBottom(200)) this.#scrollToBottom();
	}

	#onSaga(saga: SagaFrame): void {
		const msgId = this.#sagaOf.get(saga.sagaId);
		if (msgId === undefined) {
			// Can beat our own ack when the cross-post is quick; apply it when the ack lands.
			this.#earlySagas.set(saga.sagaId, saga);
			return;
		}
		const view = this.#sagas.get(saga.sagaId);
		if (view === undefined) return;
		view.state = saga.state;
		const failures = saga.steps.filter((step) => step.error !== undefined).map((step) => `#${step.room}: ${step.error ?? ""}`);
		view.detail = failures.join(", ");
		this.#renderSaga(msgId);
	}

	#onStatus(status: StatusEvent): void {
		ui.status.textContent = STATUS_TEXT[status.state];
		ui.status.dataset.state = status.state;
		// Presence is only known while connected; grey it out rather than show stale certainty.
		ui.online.classList.toggle("stale", status.state !== "live" && status.state !== "syncing");
		clearInterval(this.#countdown);
		this.#countdown = undefined;
		this.#renderOutgoingStates();
		switch (status.state) {
			case "reconnecting": {
				const at = Date.now() + (status.delayMs ?? 0);
				const render = (): void => {
					const seconds = Math.max(0, Math.ceil((at - Date.now()) / 1000));
					showBanner(
						"warn",
						`Connection lost. Reconnecting${seconds > 0 ? ` in ${seconds}s` : "…"} (attempt ${status.attempt ?? 1}). Messages you send are kept and go out once connected.`,
						"Retry now",
						() => this.client.reconnectNow(),
					);
				};
				render();
				this.#countdown = setInterval(render, 1000);
				return;
			}
			case "offline":
				showBanner("warn", "You are offline. Messages you send are kept and go out when the connection is back.");
				return;
			case "unauthorized":
				showBanner("error", "The server refused these credentials. Check the guest name or token and join again.", "Change", () => leave());
				return;
			case "forbidden":
				showBanner("error", `You do not have access to #${this.room}.`, "Choose another room", () => leave());
				return;
			case "rejected":
				showBanner("error", "The server refused this request.", "Back", () => leave());
				return;
			case "connecting":
				// The first connect needs no alarm; a reconnect already shows its banner until live.
				if (ui.banner.dataset.kind !== "warn") hideBanner();
				return;
			default:
				hideBanner();
		}
	}

	#onError(error: ParleyClientError): void {
		// Rate limiting is handled by the client (it waits and resends); a send refused for
		// good is shown on that message; the rest deserves a line under the composer.
		if (error.code === "rate_limited" || error.id !== undefined) return;
		showNotice(error.message);
	}

	// --- outgoing -----------------------------------------------------------------------

	submit(text: string, crossPost: string[]): void {
		const id = newClientId();
		const li = el("li", "msg mine pending");
		li.dataset.clientId = id;
		const badge = el("span", "badge");
		const meta = el("div", "meta");
		meta.append(el("span", "author", this.client.user?.name ?? "you"), badge);
		const body = el("p", "text", text);
		const note = el("p", "note", crossPost.length > 0 ? `also to ${crossPost.map((room) => `#${room}`).join(", ")}` : "");
		note.hidden = crossPost.length === 0;
		const actions = el("div", "actions");
		li.append(meta, body, note, actions);
		ui.outgoing.append(li);
		this.#renderOutgoingStates();
		this.#scrollToBottom();

		const attempt = (): void => {
			li.classList.remove("failed");
			li.classList.add("pending");
			actions.replaceChildren();
			this.#renderOutgoingStates();
			this.client.send(text, { id, crossPost }).then(
				(ack) => {
					li.remove();
					if (ack.sagaId !== undefined) {
						this.#sagaOf.set(ack.sagaId, ack.msgId);
						this.#sagas.set(ack.sagaId, { targets: crossPost, state: "running", detail: "" });
						const early = this.#earlySagas.get(ack.sagaId);
						this.#earlySagas.delete(ack.sagaId);
						if (early !== undefined) this.#onSaga(early);
						else this.#renderSaga(ack.msgId);
					}
				},
				(error: ParleyClientError) => {
					li.classList.remove("pending");
					li.classList.add("failed");
					badge.textContent = `not sent: ${error.message}`;
					// Retrying reuses the id, so a retry can never post the message twice.
					const retry = el("button", "link", "Retry");
					retry.addEventListener("click", attempt);
					const discard = el("button", "link", "Discard");
					discard.addEventListener("click", () => li.remove());
					actions.replaceChildren(retry, discard);
				},
			);
		};
		attempt();
	}

	async loadOlder(): Promise<void> {
		const before = this.#oldestSeq ?? this.client.lastSeq + 1;
		if (before <= 1) return;
		ui.loadOlder.disabled = true;
		try {
			const page = await this.client.history({ before, limit: HISTORY_PAGE });
			const previousHeight = ui.scroller.scrollHeight;
			// Retracts first, so a message and its removal in the same page render as removed.
			for (const event of page.events) if (event.type === "retract") this.#onRetract(event);
			const fresh = page.events.filter((e): e is ChatMessage => e.type === "message" && !this.#views.has(e.msgId));
			for (const message of fresh.reverse()) ui.timeline.prepend(this.#renderMessage(message).li);
			for (const event of page.events) this.#noteSeq(event.seq);
			// Keep what the reader was looking at in place.
			ui.scroller.scrollTop += ui.scroller.scrollHeight - previousHeight;
			ui.loadOlder.hidden = page.events.length < HISTORY_PAGE || (this.#oldestSeq ?? 1) <= 1;
		} catch (error) {
			showNotice(`Could not load older messages: ${(error as Error).message}`);
		} finally {
			ui.loadOlder.disabled = false;
		}
	}

	// --- rendering ----------------------------------------------------------------------

	#renderMessage(message: ChatMessage): MessageView {
		const mine = message.author.id === this.client.user?.id;
		const li = el("li", mine ? "msg mine" : "msg");
		li.dataset.seq = String(message.seq);
		li.dataset.msgid = message.msgId;
		li.dataset.author = message.author.id;
		const meta = el("div", "meta");
		meta.append(el("span", "author", message.author.name));
		if (message.from !== undefined) meta.append(el("span", "origin", `via #${message.from.room}`));
		const time = el("time", "", formatTime(message.ts));
		time.setAttribute("datetime", new Date(message.ts).toISOString());
		time.title = new Date(message.ts).toLocaleString();
		meta.append(time);
		if (mine) meta.append(el("span", "badge sent", "✓ sent"));
		const note = el("p", "note");
		note.hidden = true;
		li.append(meta, el("p", "text", message.text), note);
		const view: MessageView = { li, message, note };
		this.#views.set(message.msgId, view);
		const removed = this.#retracted.get(message.msgId);
		if (message.retractedBy !== undefined || removed !== undefined) {
			this.#markRemoved(view, removed ?? "deleted");
		} else if (mine) {
			const remove = el("button", "link delete", "Delete") as DomControl;
			remove.title = "Delete this message for everyone";
			remove.addEventListener("click", () => {
				// The retract event, not this promise, updates the view: every tab sees it the same way.
				remove.disabled = true;
				this.client.delete(message.msgId).catch((error: Error) => {
					remove.disabled = false;
					showNotice(`Could not delete: ${error.message}`);
				});
			});
			meta.append(remove);
		}
		return view;
	}

	#markRemoved(view: MessageView, reason: RetractEvent["reason"]): void {
		view.li.classList.add("removed");
		view.li.dataset.removed = reason;
		const text = view.li.querySelector(".text");
		if (text !== null) {
			text.textContent =
				reason === "compensated"
					? "Removed: the cross-post did not reach every room."
					: reason === "moderated"
						? "Removed by a moderator."
						: "Message deleted.";
		}
		view.li.querySelector(".delete")?.remove();
		view.li.querySelector(".badge")?.remove();
	}

	#renderSaga(msgId: string): void {
		const view = this.#views.get(msgId);
		const sagaId = [...this.#sagaOf.entries()].find(([, id]) => id === msgId)?.[0];
		const saga = sagaId === undefined ? undefined : this.#sagas.get(sagaId);
		if (view === undefined || saga === undefined) return;
		const rooms = saga.targets.map((room) => `#${room}`).join(", ");
		const text: Record<string, string> = {
			running: `cross-posting to ${rooms}…`,
			compensating: `cross-post to ${rooms} failed, undoing…`,
			succeeded: `✓ cross-posted to ${rooms}`,
			compensated: `✗ cross-post to ${rooms} undone${saga.detail === "" ? "" : ` (${saga.detail})`}`,
			failed: `⚠ cross-post to ${rooms} failed${saga.detail === "" ? "" : ` (${saga.detail})`}`,
		};
		view.note.textContent = text[saga.state] ?? saga.state;
		view.note.dataset.saga = saga.state;
		view.note.hidden = false;
	}

	#renderOnline(): void {
		const me = this.client.user?.id;
		const people = this.client.online.sort((a, b) => a.name.localeCompare(b.name));
		ui.online.replaceChildren(
			...people.map((user) => {
				const li = el("li", user.id === me ? "me" : "", user.name);
				li.title = user.id;
				if (user.id === me) li.append(el("span", "you", " (you)"));
				return li;
			}),
		);
	}

	#renderOutgoingStates(): void {
		const waiting = this.client.state === "live" ? "sending…" : "waiting for connection…";
		for (const badge of Array.from(ui.outgoing.querySelectorAll(".pending .badge"))) badge.textContent = waiting;
	}

	#noteSeq(seq: number): void {
		this.#oldestSeq = this.#oldestSeq === undefined ? seq : Math.min(this.#oldestSeq, seq);
	}

	#atBottom(slack = 60): boolean {
		return ui.scroller.scrollHeight - ui.scroller.scrollTop - ui.scroller.clientHeight < slack;
	}

	#scrollToBottom(): void {
		ui.scroller.scrollTop = ui.scroller.scrollHeight;
	}
}

function formatTime(ts: number): string {
	return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// ---------------------------------------------------------------------------------------
// Page-level UI
// ---------------------------------------------------------------------------------------

let bannerAction: (() => void) | undefined;

function showBanner(kind: "warn" | "error", text: string, action?: string, onAction?: () => void): void {
	ui.banner.hidden = false;
	ui.banner.dataset.kind = kind;
	ui.bannerText.textContent = text;
	ui.bannerAction.hidden = action === undefined;
	ui.bannerAction.textContent = action ?? "";
	bannerAction = onAction;
}

function hideBanner(): void {
	ui.banner.hidden = true;
	delete ui.banner.dataset.kind;
	bannerAction = undefined;
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function showNotice(text: string): void {
	ui.notice.textContent = text;
	ui.notice.hidden = false;
	clearTimeout(noticeTimer);
	noticeTimer = setTimeout(() => {
		ui.notice.hidden = true;
	}, 6000);
}

let session: Session | undefined;

function join(room: string, identity: Identity): void {
	session?.dispose();
	ui.timeline.replaceChildren();
	ui.outgoing.replaceChildren();
	ui.online.replaceChildren();
	ui.loadOlder.hidden = true;
	hideBanner();
	browser.sessionStorage.setItem(IDENTITY_KEY, JSON.stringify(identity));
	if (roomFromHash() !== room) browser.location.hash = room;
	ui.roomTitle.textContent = `#${room}`;
	ui.join.hidden = true;
	ui.chat.hidden = false;
	ui.leave.hidden = false;
	session = new Session(room, identity);
	ui.text.focus();
}

function leave(): void {
	session?.dispose();
	session = undefined;
	browser.sessionStorage.removeItem(IDENTITY_KEY);
	hideBanner();
	ui.status.textContent = STATUS_TEXT.idle;
	ui.status.dataset.state = "idle";
	ui.roomTitle.textContent = "";
	ui.chat.hidden = true;
	ui.leave.hidden = true;
	ui.join.hidden = false;
	ui.joinRoom.value = roomFromHash() ?? ui.joinRoom.value;
	ui.joinRoom.focus();
}

function showJoinError(text: string): void {
	ui.joinError.textContent = text;
	ui.joinError.hidden = text === "";
}

function parseCrossPost(raw: string): string[] | string {
	const rooms = [...new Set(raw.split(/[\s,]+/).map((room) => room.replace(/^#/, "").trim()).filter((room) => room !== ""))];
	const bad = rooms.find((room) => !isRoomId(room));
	if (bad !== undefined) return `"${bad}" is not a room id (lowercase letters, digits, . _ -)`;
	if (session !== undefined && rooms.includes(session.room)) return "cross-post targets must be other rooms";
	if (rooms.length > 10) return "at most 10 rooms";
	return rooms;
}

function wire(): void {
	ui.joinMode.addEventListener("change", () => {
		const token = ui.joinMode.value === "token";
		ui.guestField.hidden = token;
		ui.tokenField.hidden = !token;
	});
	ui.joinForm.addEventListener("submit", (event) => {
		event.preventDefault();
		const room = ui.joinRoom.value.trim().toLowerCase();
		if (!isRoomId(room)) return showJoinError("A room name is 1–64 lowercase letters, digits, dot, dash or underscore.");
		let identity: Identity;
		if (ui.joinMode.value === "token") {
			const token = ui.joinToken.value.trim();
			if (token === "") return showJoinError("Paste a token.");
			identity = { token };
		} else {
			const guest = ui.joinGuest.value.trim();
			if (!/^[A-Za-z0-9_-]{1,32}$/.test(guest)) return showJoinError("A guest name is 1–32 letters, digits, - or _.");
			identity = { guest };
		}
		showJoinError("");
		join(room, identity);
	});
	ui.composer.addEventListener("submit", (event) => {
		event.preventDefault();
		sendFromComposer();
	});
	ui.text.addEventListener("keydown", (event) => {
		// Enter sends, Shift+Enter is a new line; never interrupt an IME composition.
		if (event.key === "Enter" && event.shiftKey !== true && event.isComposing !== true) {
			event.preventDefault();
			sendFromComposer();
		}
	});
	ui.loadOlder.addEventListener("click", () => void session?.loadOlder());
	ui.leave.addEventListener("click", () => leave());
	ui.bannerAction.addEventListener("click", () => bannerAction?.());
	browser.addEventListener("hashchange", () => {
		const room = roomFromHash();
		const identity = loadIdentity();
		if (room !== undefined && room !== session?.room && identity !== undefined) join(room, identity);
	});
	// The browser knows before any heartbeat that the network is gone: stop trying and
	// queue, then reconnect the moment it is back instead of waiting out a backoff delay.
	browser.addEventListener("offline", () => session?.client.suspend());
	browser.addEventListener("online", () => session?.client.resume());
}

function sendFromComposer(): void {
	if (session === undefined) return;
	const text = ui.text.value;
	if (text.trim() === "") return;
	const crossPost = parseCrossPost(ui.crossPost.value);
	if (typeof crossPost === "string") {
		showNotice(crossPost);
		return;
	}
	session.submit(text, crossPost);
	ui.text.value = "";
	ui.crossPost.value = "";
	ui.text.focus();
}

function start(): void {
	wire();
	const room = roomFromHash();
	const identity = loadIdentity();
	if (room !== undefined && identity !== undefined) {
		join(room, identity);
		return;
	}
	if (room !== undefined) ui.joinRoom.value = room;
	if (identity !== undefined && "guest" in identity) ui.joinGuest.value = identity.guest;
	ui.join.hidden = false;
	ui.chat.hidden = true;
}

start();
