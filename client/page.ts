/**
 * The chat page (`/`), bundled with the client library into public/app.js by
 * scripts/build-client.mjs.
 *
 * The room lives in the URL hash (`/#lobby`); the identity in sessionStorage (this tab) and in
 * localStorage per room (so reopening `/#lobby` after closing the tab rejoins), never in the URL
 * where a token would leak through shared links. Unsent messages are kept in localStorage by the
 * client's persistent outbox and go out the next time this user is in the room. Every piece of
 * user data is rendered with textContent.
 */
import { ParleyClient, localStorageOutbox, newClientId } from "./index.ts";
import type {
	ChatMessage,
	ConnectionState,
	ParleyClientError,
	PendingSend,
	QueueStatus,
	RetractEvent,
	SagaFrame,
	StatusEvent,
	UserRef,
} from "./index.ts";
import { DEFAULT_LIMITS, GUEST_NAME_PATTERN, MAX_CROSS_POSTS, codePointLength, isRoomId } from "../src/protocol.ts";
import { byId, el, userText } from "./dom.ts";

type Identity = { guest: string } | { token: string };

const IDENTITY_KEY = "parley.identity";
const HISTORY_PAGE = 50;
/** The counter turns to a warning from this share of the limit on. */
const NEAR_LIMIT = 0.9;
/** Holds shorter than this are the client's own pacing: not worth a "waiting" message. */
const SHOW_HOLD_MS = 1000;
/** Refusals that are not the message's fault, so sending it again may work. */
const RETRYABLE = new Set<string>(["internal", "network", "timeout"]);

const ui = {
	roomTitle: byId("room-title"),
	status: byId("status"),
	leave: byId("leave", HTMLButtonElement),
	banner: byId("banner"),
	bannerText: byId("banner-text"),
	bannerAction: byId("banner-action", HTMLButtonElement),
	join: byId("join"),
	joinForm: byId("join-form"),
	joinRoom: byId("join-room", HTMLInputElement),
	joinSuggest: byId("join-suggest"),
	joinSuggestText: byId("join-suggest-text"),
	joinSuggestUse: byId("join-suggest-use", HTMLButtonElement),
	joinMode: byId("join-mode", HTMLSelectElement),
	guestField: byId("guest-field"),
	joinGuest: byId("join-guest", HTMLInputElement),
	tokenField: byId("token-field"),
	joinToken: byId("join-token", HTMLTextAreaElement),
	joinError: byId("join-error"),
	chat: byId("chat"),
	scroller: byId("scroller"),
	loadOlder: byId("load-older", HTMLButtonElement),
	timeline: byId("timeline"),
	outgoing: byId("outgoing"),
	online: byId("online"),
	composer: byId("composer"),
	text: byId("text", HTMLTextAreaElement),
	crossPost: byId("cross-post", HTMLInputElement),
	send: byId("send", HTMLButtonElement),
	hint: byId("composer-hint"),
	counter: byId("counter"),
	notice: byId("notice"),
	leaveDialog: byId("leave-dialog", HTMLDialogElement),
	leaveTitle: byId("leave-title"),
	leaveText: byId("leave-text"),
	leaveKeep: byId("leave-keep"),
	leaveDiscard: byId("leave-discard"),
};

// ---------------------------------------------------------------------------------------
// Identity and URL
// ---------------------------------------------------------------------------------------

function parseIdentity(raw: string | null): Identity | undefined {
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

const roomIdentityKey = (room: string): string => `${IDENTITY_KEY}:${room}`;

/** This tab's identity first (two tabs may be two people), then the last one used in the room. */
function loadIdentity(room: string): Identity | undefined {
	return parseIdentity(sessionStorage.getItem(IDENTITY_KEY)) ?? parseIdentity(localStorage.getItem(roomIdentityKey(room)));
}

function saveIdentity(room: string, identity: Identity): void {
	const raw = JSON.stringify(identity);
	sessionStorage.setItem(IDENTITY_KEY, raw);
	localStorage.setItem(roomIdentityKey(room), raw);
}

function forgetIdentity(room: string): void {
	sessionStorage.removeItem(IDENTITY_KEY);
	localStorage.removeItem(roomIdentityKey(room));
}

/** `isRoomId` without its type guard, which would narrow a string that fails it to never. */
const validRoom = (name: string): boolean => isRoomId(name);

/** What the user probably meant by a room name: `#Lobby` is `lobby`. */
interface RoomGuess {
	room?: string;
	/** Set when the name had to be lower-cased, to tell the user. */
	lowered?: boolean;
	/** A valid name close to an invalid one (`my room` → `my-room`), to offer. */
	suggestion?: string;
}

function guessRoom(raw: string): RoomGuess {
	const name = raw.trim().replace(/^#+/, "");
	if (validRoom(name)) return { room: name };
	const lower = name.toLowerCase();
	if (validRoom(lower)) return { room: lower, lowered: true };
	const suggestion = lower
		.replace(/\s+/g, "-")
		.replace(/[^a-z0-9._-]/g, "")
		.replace(/^[._-]+/, "")
		.slice(0, 64);
	return validRoom(suggestion) ? { suggestion } : {};
}

function roomFromHash(): string | undefined {
	let raw: string;
	try {
		raw = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
	} catch {
		return undefined; // A malformed %-escape: no room.
	}
	const room = guessRoom(raw).room;
	// `/#Lobby` means #lobby; show the real name in the address bar.
	if (room !== undefined && room !== raw) history.replaceState(null, "", `${location.pathname}${location.search}#${room}`);
	return room;
}

// ---------------------------------------------------------------------------------------
// One joined room
// ---------------------------------------------------------------------------------------

interface MessageView {
	li: HTMLElement;
	message: ChatMessage;
	note: HTMLElement;
}

interface OutgoingView {
	li: HTMLElement;
	badge: HTMLElement;
	actions: HTMLElement;
	send: PendingSend;
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

const plural = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString()} ${n === 1 ? one : many}`;

/** The name and, for guests, a tag saying so: a guest name is not an account. */
function nameWithTag(user: UserRef, className: string): HTMLElement[] {
	const name = userText("span", className, user.name);
	if (!user.id.startsWith("guest:")) return [name];
	const tag = el("span", "tag guest", "guest");
	tag.title = `Not signed in: everyone who joins as the guest "${user.name}" is this same guest.`;
	return [name, tag];
}

class Session {
	readonly room: string;
	readonly client: ParleyClient;
	readonly #identity: Identity;
	readonly #views = new Map<string, MessageView>();
	readonly #outgoing = new Map<string, OutgoingView>();
	/** Retracts seen for messages not (yet) on screen, applied if an older page brings them. */
	readonly #retracted = new Map<string, RetractEvent["reason"]>();
	/** Cross-posts by sagaId, and the message each belongs to. */
	readonly #sagas = new Map<string, SagaView>();
	readonly #sagaOf = new Map<string, string>();
	readonly #earlySagas = new Map<string, SagaFrame>();
	#queue: QueueStatus = { size: 0, inFlight: 0, heldUntil: 0 };
	#oldestSeq: number | undefined;
	#countdown: ReturnType<typeof setInterval> | undefined;
	/** Re-renders "Waiting Ns" while a rate-limit hold lasts. */
	#holdTicker: ReturnType<typeof setInterval> | undefined;
	#disposed = false;
	readonly #unsubscribe: Array<() => void> = [];

	constructor(room: string, identity: Identity) {
		this.room = room;
		this.#identity = identity;
		this.client = new ParleyClient({
			url: location.origin,
			room,
			...identity,
			// Unsent messages survive a reload or a closed tab, and go out when this user is back.
			storage: localStorageOutbox(),
			heartbeatIntervalMs: 15_000,
			heartbeatTimeoutMs: 7_000,
		});
		const { client } = this;
		this.#unsubscribe.push(
			client.on("message", (message) => this.#onMessage(message)),
			client.on("retract", (retract) => this.#onRetract(retract)),
			client.on("welcome", () => {
				this.#renderOnline();
				// The server's limits replace the defaults: what fits may have changed.
				updateComposer();
			}),
			client.on("presence", () => this.#renderOnline()),
			client.on("saga", (saga) => this.#onSaga(saga)),
			client.on("status", (status) => this.#onStatus(status)),
			client.on("synced", () => this.#onSynced()),
			client.on("error", (error) => this.#onError(error)),
			client.on("restored", (sends) => this.#onRestored(sends)),
			client.on("queue", (queue) => {
				this.#queue = queue;
				this.#renderQueue();
			}),
		);
		if (!navigator.onLine) client.suspend();
		void client.connect().catch(() => undefined);
	}

	/** Who the user is, for the Leave dialog and pending bubbles, before the server says. */
	get displayName(): string {
		return this.client.user?.name ?? ("guest" in this.#identity ? this.#identity.guest : "you");
	}

	get identity(): Identity {
		return this.#identity;
	}

	dispose(): void {
		this.#disposed = true;
		for (const off of this.#unsubscribe) off();
		clearInterval(this.#countdown);
		clearInterval(this.#holdTicker);
		// Unsent messages stay in storage (unless discarded first) and go out next time.
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
		// Presence is only known while connected; grey it out rather than show stale certainty.
		ui.online.classList.toggle("stale", status.state !== "live" && status.state !== "syncing");
		clearInterval(this.#countdown);
		this.#countdown = undefined;
		this.#renderQueue();
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
				showBanner("error", "The server refused these credentials. Check the guest name or token and join again.", "Change", () =>
					leave(),
				);
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
		const send: PendingSend = crossPost.length > 0 ? { id: newClientId(), text, crossPost } : { id: newClientId(), text };
		ui.outgoing.append(this.#track(send).li);
		this.#renderQueue();
		this.#scrollToBottom();
	}

	/** Messages a previous visit left unsent: the client queued them first, so they go first on screen too. */
	#onRestored(sends: PendingSend[]): void {
		const fresh = sends.filter((send) => !this.#outgoing.has(send.id));
		ui.outgoing.prepend(...fresh.map((send) => this.#track(send).li));
		this.#renderQueue();
		if (fresh.length > 0)
			showNotice(
				`${plural(fresh.length, "message")} from your last visit ${fresh.length === 1 ? "was" : "were"} not sent yet; queued again.`,
				"info",
			);
	}

	/** A bubble for one send, and its outcome; a send with an id already queued joins it, never doubles. */
	#track(send: PendingSend): OutgoingView {
		const li = el("li", "msg mine pending");
		li.dataset.clientId = send.id;
		const badge = el("span", "badge");
		const meta = el("div", "meta");
		meta.append(userText("span", "author", this.displayName), badge);
		const crossPost = send.crossPost ?? [];
		const note = el("p", "note", crossPost.length > 0 ? `also to ${crossPost.map((room) => `#${room}`).join(", ")}` : "");
		note.hidden = crossPost.length === 0;
		const actions = el("div", "actions");
		li.append(meta, userText("p", "text", send.text), note, actions);
		const view: OutgoingView = { li, badge, actions, send };
		this.#outgoing.set(send.id, view);
		this.#attempt(view);
		return view;
	}

	#attempt(view: OutgoingView): void {
		const { li, send } = view;
		li.classList.remove("failed");
		li.classList.add("pending");
		delete li.dataset.error;
		view.actions.replaceChildren();
		this.client.send(send.text, { id: send.id, crossPost: send.crossPost }).then(
			(ack) => {
				this.#drop(view);
				if (ack.sagaId === undefined) return;
				this.#sagaOf.set(ack.sagaId, ack.msgId);
				this.#sagas.set(ack.sagaId, { targets: send.crossPost ?? [], state: "running", detail: "" });
				const early = this.#earlySagas.get(ack.sagaId);
				this.#earlySagas.delete(ack.sagaId);
				if (early !== undefined) this.#onSaga(early);
				else this.#renderSaga(ack.msgId);
			},
			(error: ParleyClientError) => this.#refused(view, error),
		);
		this.#renderQueue();
	}

	/** The message will not be stored as it is: say why, and offer what can still help. */
	#refused(view: OutgoingView, error: ParleyClientError): void {
		// After Leave the client rejects what it drops from memory; those are kept in storage.
		if (this.#disposed) return;
		const { li, send } = view;
		li.classList.remove("pending");
		li.classList.add("failed");
		li.dataset.error = error.code;
		view.badge.textContent = `not sent: ${error.message}`;
		const edit = el("button", "link edit", "Edit");
		edit.title = "Put the text back in the message box";
		edit.addEventListener("click", () => {
			this.#drop(view);
			// Never overwrite what is being typed: add below it.
			ui.text.value = ui.text.value.trim() === "" ? send.text : `${ui.text.value}\n${send.text}`;
			if (ui.crossPost.value.trim() === "" && send.crossPost !== undefined) ui.crossPost.value = send.crossPost.join(", ");
			updateComposer();
			ui.text.focus();
		});
		const discard = el("button", "link discard", "Discard");
		discard.addEventListener("click", () => this.#drop(view));
		// Retrying reuses the id, so a retry can never post the message twice; it is offered
		// only when the refusal was not about the message itself.
		if (RETRYABLE.has(error.code)) {
			const retry = el("button", "link retry", "Retry");
			retry.addEventListener("click", () => this.#attempt(view));
			view.actions.replaceChildren(retry, edit, discard);
		} else {
			view.actions.replaceChildren(edit, discard);
		}
		this.#renderQueue();
	}

	#drop(view: OutgoingView): void {
		view.li.remove();
		this.#outgoing.delete(view.send.id);
		this.#renderQueue();
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
		meta.append(...nameWithTag(message.author, "author"));
		if (message.from !== undefined) meta.append(el("span", "origin", `via #${message.from.room}`));
		const time = el("time", "", formatTime(message.ts));
		time.setAttribute("datetime", new Date(message.ts).toISOString());
		time.title = new Date(message.ts).toLocaleString();
		meta.append(time);
		if (mine) meta.append(el("span", "badge sent", "✓ sent"));
		const note = el("p", "note");
		note.hidden = true;
		li.append(meta, userText("p", "text", message.text), note);
		const view: MessageView = { li, message, note };
		this.#views.set(message.msgId, view);
		const removed = this.#retracted.get(message.msgId);
		if (message.retractedBy !== undefined || removed !== undefined) {
			this.#markRemoved(view, removed ?? "deleted");
		} else if (mine) {
			const remove = el("button", "link delete", "Delete");
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
				const li = el("li", user.id === me ? "me" : "");
				li.append(...nameWithTag(user, "name"));
				li.title = user.id;
				if (user.id === me) li.append(el("span", "you", " (you)"));
				return li;
			}),
		);
	}

	/**
	 * The status line and the pending bubbles say what the queue is doing: "Live" only when
	 * nothing is waiting, "Sending 3…" or "Waiting 2s (rate limit)…" otherwise.
	 */
	#renderQueue(): void {
		const state = this.client.state;
		const waiting = this.client.pending;
		const holdMs = this.#queue.heldUntil - Date.now();
		const held = state === "live" && waiting > 0 && holdMs >= SHOW_HOLD_MS;
		let text = STATUS_TEXT[state];
		let queue: string | undefined;
		let badge = "waiting for connection…";
		if (waiting > 0 && state === "live") {
			queue = held ? "held" : "sending";
			text = held
				? `Waiting ${Math.ceil(holdMs / 1000)}s (rate limit)… ${waiting.toLocaleString()} to send`
				: `Sending ${waiting.toLocaleString()}…`;
			badge = held ? "waiting (rate limit)…" : "sending…";
		} else if (waiting > 0) {
			queue = "waiting";
			text = `${text} · ${plural(waiting, "message")} waiting`;
		}
		ui.status.textContent = text;
		ui.status.dataset.state = state;
		if (queue === undefined) delete ui.status.dataset.queue;
		else ui.status.dataset.queue = queue;
		for (const view of this.#outgoing.values()) if (view.li.classList.contains("pending")) view.badge.textContent = badge;
		// Count the hold down; stop ticking once nothing is held.
		if (held && this.#holdTicker === undefined) this.#holdTicker = setInterval(() => this.#renderQueue(), 500);
		if (!held && this.#holdTicker !== undefined) {
			clearInterval(this.#holdTicker);
			this.#holdTicker = undefined;
		}
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
/** A line under the composer; `info` for news, not trouble. */
function showNotice(text: string, kind: "error" | "info" = "error"): void {
	ui.notice.textContent = text;
	ui.notice.dataset.kind = kind;
	ui.notice.hidden = false;
	clearTimeout(noticeTimer);
	noticeTimer = setTimeout(() => {
		ui.notice.hidden = true;
	}, 6000);
}

let session: Session | undefined;

function join(room: string, identity: Identity, note?: string): void {
	session?.dispose();
	ui.timeline.replaceChildren();
	ui.outgoing.replaceChildren();
	ui.online.replaceChildren();
	ui.loadOlder.hidden = true;
	hideBanner();
	saveIdentity(room, identity);
	if (roomFromHash() !== room) location.hash = room;
	ui.roomTitle.textContent = `#${room}`;
	ui.join.hidden = true;
	ui.chat.hidden = false;
	ui.leave.hidden = false;
	session = new Session(room, identity);
	updateComposer();
	if (note !== undefined) showNotice(note, "info");
	ui.text.focus();
}

/** Leave asks first when messages are still unsent; they are kept unless the user discards them. */
function requestLeave(): void {
	const waiting = session?.client.pending ?? 0;
	if (session === undefined || waiting === 0) {
		leave();
		return;
	}
	ui.leaveTitle.textContent = `Leave #${session.room}?`;
	ui.leaveText.textContent =
		`${plural(waiting, "message is", "messages are")} not sent yet. ` +
		`If you leave, ${waiting === 1 ? "it is" : "they are"} kept in this browser and sent the next time you join #${session.room} as ${session.displayName}.`;
	const them = waiting === 1 ? "it" : "them";
	ui.leaveKeep.textContent = `Leave, send ${them} later`;
	ui.leaveDiscard.textContent = `Discard ${them} and leave`;
	ui.leaveDialog.returnValue = "";
	ui.leaveDialog.showModal();
}

function leave(discard = false): void {
	if (session !== undefined) {
		if (discard) session.client.discardUnsent();
		if ("guest" in session.identity) ui.joinGuest.value = session.identity.guest;
		forgetIdentity(session.room);
		session.dispose();
	}
	session = undefined;
	hideBanner();
	ui.status.textContent = STATUS_TEXT.idle;
	ui.status.dataset.state = "idle";
	delete ui.status.dataset.queue;
	ui.roomTitle.textContent = "";
	ui.chat.hidden = true;
	ui.leave.hidden = true;
	ui.join.hidden = false;
	ui.joinRoom.value = roomFromHash() ?? ui.joinRoom.value;
	ui.joinRoom.focus();
}

function showJoinError(text: string, suggestion?: string): void {
	ui.joinError.textContent = text;
	ui.joinError.hidden = text === "";
	ui.joinSuggest.hidden = suggestion === undefined;
	ui.joinSuggestText.textContent = suggestion === undefined ? "" : `Did you mean #${suggestion}?`;
	ui.joinSuggestUse.textContent = suggestion === undefined ? "" : `Use #${suggestion}`;
	ui.joinSuggestUse.dataset.room = suggestion ?? "";
}

function parseCrossPost(raw: string): string[] | string {
	const names = raw.split(/[\s,]+/).filter((name) => name.replace(/^#+/, "") !== "");
	const rooms: string[] = [];
	for (const name of names) {
		const room = guessRoom(name).room;
		if (room === undefined) return `"${name}" is not a room name (lowercase letters, digits, . _ -)`;
		if (!rooms.includes(room)) rooms.push(room);
	}
	if (session !== undefined && rooms.includes(session.room)) return "Cross-post targets must be other rooms.";
	if (rooms.length > MAX_CROSS_POSTS) return `Cross-post to at most ${MAX_CROSS_POSTS} rooms.`;
	return rooms;
}

const sentence = (text: string): string => `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}`;

/**
 * What the composer holds can be sent as it is, or why not. Runs on every keystroke and renders
 * the counter, the reason, and Send's state, so text that cannot go out never leaves the box.
 */
function updateComposer(): { crossPost: string[] } | { reason: string } {
	const text = ui.text.value;
	const max = session?.client.limits.maxMessageChars ?? DEFAULT_LIMITS.maxMessageChars;
	const chars = codePointLength(text);
	ui.counter.textContent = `${chars.toLocaleString()} / ${max.toLocaleString()}`;
	ui.counter.dataset.state = chars > max ? "over" : chars >= max * NEAR_LIMIT ? "near" : "ok";
	const verdict = judge(text, chars, max);
	const reason = "reason" in verdict ? verdict.reason : "";
	ui.hint.textContent = reason;
	ui.hint.hidden = reason === "";
	ui.send.disabled = "reason" in verdict;
	return verdict;
}

function judge(text: string, chars: number, max: number): { crossPost: string[] } | { reason: string } {
	if (session === undefined || text === "") return { reason: "" };
	if (text.trim() === "") return { reason: "A message needs some text, not only spaces." };
	if (chars > max) {
		return {
			reason: `Too long to send: ${chars.toLocaleString()} characters, the limit is ${max.toLocaleString()}. Shorten it by ${(chars - max).toLocaleString()}.`,
		};
	}
	const crossPost = parseCrossPost(ui.crossPost.value);
	if (typeof crossPost === "string") return { reason: crossPost };
	// The library's own verdict covers what the page does not (the frame's byte size).
	const refused = session.client.check(text, { crossPost });
	if (refused !== undefined)
		return { reason: refused.code === "too_large" ? `Too long to send: ${refused.message}.` : sentence(refused.message) };
	return { crossPost };
}

function sendFromComposer(): void {
	if (session === undefined) return;
	const verdict = updateComposer();
	// Not sendable: the reason is on screen and the text stays where it can be fixed.
	if ("reason" in verdict) return;
	session.submit(ui.text.value, verdict.crossPost);
	ui.text.value = "";
	ui.crossPost.value = "";
	updateComposer();
	ui.text.focus();
}

function wire(): void {
	ui.joinMode.addEventListener("change", () => {
		const token = ui.joinMode.value === "token";
		ui.guestField.hidden = token;
		ui.tokenField.hidden = !token;
	});
	ui.joinForm.addEventListener("submit", (event) => {
		event.preventDefault();
		const guess = guessRoom(ui.joinRoom.value);
		const room = guess.room;
		if (room === undefined) {
			return showJoinError("A room name is 1–64 lowercase letters, digits, dot, dash or underscore.", guess.suggestion);
		}
		let identity: Identity;
		if (ui.joinMode.value === "token") {
			const token = ui.joinToken.value.trim();
			if (token === "") return showJoinError("Paste a token.");
			identity = { token };
		} else {
			const guest = ui.joinGuest.value.trim();
			if (!GUEST_NAME_PATTERN.test(guest)) return showJoinError("A guest name is 1–32 letters, digits, - or _.");
			identity = { guest };
		}
		showJoinError("");
		ui.joinRoom.value = room;
		join(room, identity, guess.lowered === true ? `Room names are lower case: you joined #${room}.` : undefined);
	});
	ui.joinSuggestUse.addEventListener("click", () => {
		ui.joinRoom.value = ui.joinSuggestUse.dataset.room ?? "";
		showJoinError("");
		ui.joinRoom.focus();
	});
	ui.composer.addEventListener("submit", (event) => {
		event.preventDefault();
		sendFromComposer();
	});
	ui.text.addEventListener("input", () => updateComposer());
	ui.crossPost.addEventListener("input", () => updateComposer());
	ui.text.addEventListener("keydown", (event) => {
		// Enter sends, Shift+Enter is a new line; never interrupt an IME composition.
		if (event.key === "Enter" && event.shiftKey !== true && event.isComposing !== true) {
			event.preventDefault();
			sendFromComposer();
		}
	});
	ui.loadOlder.addEventListener("click", () => void session?.loadOlder());
	ui.leave.addEventListener("click", () => requestLeave());
	ui.leaveDialog.addEventListener("close", () => {
		const choice = ui.leaveDialog.returnValue;
		if (choice === "keep" || choice === "discard") leave(choice === "discard");
	});
	ui.bannerAction.addEventListener("click", () => bannerAction?.());
	addEventListener("hashchange", () => {
		const room = roomFromHash();
		if (room === undefined || room === session?.room) return;
		const identity = loadIdentity(room) ?? session?.identity;
		if (identity !== undefined) join(room, identity);
	});
	// Unsent messages are kept, but they only go out once the user is back: worth a warning.
	addEventListener("beforeunload", (event) => {
		if ((session?.client.pending ?? 0) === 0) return;
		event.preventDefault();
		event.returnValue = "unsent";
	});
	// The browser knows before any heartbeat that the network is gone: stop trying and
	// queue, then reconnect the moment it is back instead of waiting out a backoff delay.
	addEventListener("offline", () => session?.client.suspend());
	addEventListener("online", () => session?.client.resume());
}

function start(): void {
	wire();
	const room = roomFromHash();
	const identity = room === undefined ? undefined : loadIdentity(room);
	if (room !== undefined && identity !== undefined) {
		join(room, identity);
		return;
	}
	if (room !== undefined) ui.joinRoom.value = room;
	const last = parseIdentity(sessionStorage.getItem(IDENTITY_KEY));
	if (last !== undefined && "guest" in last) ui.joinGuest.value = last.guest;
	ui.join.hidden = false;
	ui.chat.hidden = true;
}

start();
