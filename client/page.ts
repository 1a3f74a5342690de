/**
 * The chat page (`/`), bundled with the client library into public/app.js by
 * scripts/build-client.mjs.
 *
 * The room lives in the URL hash (`/#lobby`); the identity in sessionStorage (this tab) and in
 * localStorage per room (so reopening `/#lobby` after closing the tab rejoins), never in the URL
 * where a token would leak through shared links. Unsent messages are kept in localStorage by the
 * client's persistent outbox and go out the next time this user is in the room. Every piece of
 * user data is rendered with textContent (links are built as elements from URLs that
 * client/rich-text.ts accepted, http and https only). The rules of what goes where (grouping,
 * separators, unread divider, "seen by", mentions, autocomplete, typing expiry, reactions) are
 * pure modules beside this one; this file is the glue between them, the client and the DOM. The
 * room list, mentions view, DMs and tab title (v1.4) are page-inbox.ts.
 */
import { ParleyClient, applyEvent, localStorageOutbox, newClientId } from "./index.ts";
import type {
	ChatMessage,
	ConnectionState,
	ParleyClientError,
	PendingSend,
	QueueStatus,
	RetractEvent,
	SagaFrame,
	SendOptions,
	StatusEvent,
	UserRef,
	WelcomeFrame,
} from "./index.ts";
import type { MessageEditedEvent, ReactionEvent, ReadState, ReceiptFrame, ReplyRef } from "../src/protocol.ts";
import {
	DEFAULT_LIMITS,
	GUEST_NAME_PATTERN,
	MAX_CROSS_POSTS,
	REPLY_EXCERPT_CHARS,
	UNREAD_COUNT_MAX,
	codePointLength,
	isRoomId,
} from "../src/protocol.ts";
import { byId, el, userText } from "./dom.ts";
import { inboxPanel } from "./page-inbox.ts";
import { completeMention, matchMentions, mentionQuery } from "./mention-complete.ts";
import type { SeenUser } from "./mention-complete.ts";
import { QUICK_REACTIONS, lastEditable, layout, seenBy, seenByText, typingText, unreadLabel } from "./page-format.ts";
import type { MessageSummary, ReaderMark } from "./page-format.ts";
import { nameFromUserId, parseRichText } from "./rich-text.ts";
import type { MentionTarget, Segment } from "./rich-text.ts";
import { TypingUsers } from "./typing.ts";

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
	typing: byId("typing"),
	context: byId("composer-context"),
	contextText: byId("composer-context-text"),
	contextCancel: byId("composer-context-cancel", HTMLButtonElement),
	mentions: byId("mentions"),
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
	/** The message as shown now: edits and reactions folded in (by the client's `applyEvent`), `retractedBy` set once removed. */
	message: ChatMessage;
	meta: HTMLElement;
	body: HTMLElement;
	note: HTMLElement;
	chips: HTMLElement;
	actions: HTMLElement;
	/** The date separator before this message, while it is the first of its day. */
	day?: HTMLElement;
	/** A delete waiting out its undo window. */
	deleting?: { timer: ReturnType<typeof setTimeout>; bar: HTMLElement };
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

/** What the composer is doing besides writing a new message. */
type ComposerMode =
	| { kind: "new" }
	| { kind: "reply"; to: ReplyRef }
	/** Editing `msgId`; `draft` is what was in the box before, put back afterwards. */
	| { kind: "edit"; msgId: string; draft: string; crossPost: string };

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

/** How long a delete can be undone before it is sent. */
const UNDO_MS = 5000;
/** How many older pages a click on a quote may load to find the message it quotes. */
const QUOTE_SEARCH_PAGES = 5;
/** The share of a message that must be on screen for it to count as seen. */
const SEEN_THRESHOLD = 0.6;

/** Text with links, inline code and mentions as elements; every piece of it through textContent. */
function renderRich(segments: Segment[]): Node[] {
	return segments.map((segment) => {
		if (segment.kind === "code") return el("code", "", segment.code);
		if (segment.kind === "link") {
			const a = el("a", "", segment.text);
			a.href = segment.href;
			a.target = "_blank";
			a.rel = "noopener noreferrer nofollow";
			return a;
		}
		if (segment.kind === "mention") {
			const mark = el("span", segment.me ? "mention me" : "mention", segment.text);
			mark.dataset.user = segment.userId;
			return mark;
		}
		return document.createTextNode(segment.text);
	});
}

class Session {
	readonly room: string;
	readonly client: ParleyClient;
	readonly #identity: Identity;
	readonly #views = new Map<string, MessageView>();
	/** The messages on screen, in seq order (the timeline's order). */
	#order: MessageView[] = [];
	readonly #outgoing = new Map<string, OutgoingView>();
	/** Retracts seen for messages not (yet) on screen, applied if an older page brings them. */
	readonly #retracted = new Map<string, { reason: RetractEvent["reason"]; seq: number }>();
	/** Cross-posts by sagaId, and the message each belongs to. */
	readonly #sagas = new Map<string, SagaView>();
	readonly #sagaOf = new Map<string, string>();
	readonly #earlySagas = new Map<string, SagaFrame>();
	/** Everyone seen in the room (authors, online, typing, reacting, reading), for names and `@`. */
	readonly #people = new Map<string, SeenUser>();
	readonly #typing = new TypingUsers();
	#typingTimer: ReturnType<typeof setTimeout> | undefined;
	/** The reader's marker when the room was opened: where the unread divider goes. */
	#readOnOpen: ReadState | undefined;
	readonly #divider = el("li", "unread-divider");
	readonly #seenLine = el("p", "seen-by");
	#mode: ComposerMode = { kind: "new" };
	/** Seqs of messages on screen now, for the read marker. */
	readonly #visible = new Set<number>();
	#markedSeq = 0;
	readonly #seenObserver: IntersectionObserver;
	readonly #topObserver: IntersectionObserver;
	#loadingOlder = false;
	#firstSync = true;
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
		this.#divider.setAttribute("role", "separator");
		this.#seenLine.setAttribute("aria-live", "polite");
		this.client = new ParleyClient({
			url: location.origin,
			room,
			...identity,
			// Unsent messages survive a reload or a closed tab, and go out when this user is back.
			storage: localStorageOutbox(),
			heartbeatIntervalMs: 15_000,
			heartbeatTimeoutMs: 7_000,
		});
		this.#seenObserver = new IntersectionObserver((entries) => this.#onVisibility(entries), {
			root: ui.scroller,
			threshold: [0, SEEN_THRESHOLD],
		});
		// The top of the timeline coming into view loads the page before it.
		this.#topObserver = new IntersectionObserver(
			(entries) => {
				if (entries.some((entry) => entry.isIntersecting)) void this.loadOlder();
			},
			{ root: ui.scroller, rootMargin: "200px 0px 0px 0px" },
		);
		this.#topObserver.observe(ui.loadOlder);
		const { client } = this;
		this.#unsubscribe.push(
			client.on("message", (message) => this.#onMessage(message)),
			client.on("retract", (retract) => this.#onRetract(retract)),
			client.on("edit", (edit) => this.#onChange(edit)),
			client.on("reaction", (reaction) => {
				this.#noteUser(reaction.user, reaction.ts);
				this.#onChange(reaction);
			}),
			client.on("typing", (typing) => this.#onTyping(typing.user)),
			client.on("receipt", (receipt) => this.#onReceipt(receipt)),
			client.on("welcome", (welcome) => this.#onWelcome(welcome)),
			client.on("online", () => this.#renderOnline()),
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

	get mode(): ComposerMode {
		return this.#mode;
	}

	dispose(): void {
		this.#disposed = true;
		for (const off of this.#unsubscribe) off();
		clearInterval(this.#countdown);
		clearInterval(this.#holdTicker);
		clearTimeout(this.#typingTimer);
		this.#seenObserver.disconnect();
		this.#topObserver.disconnect();
		// A delete waiting out its undo window was asked for: send it now rather than lose it.
		for (const view of this.#views.values()) if (view.deleting !== undefined) this.#sendDelete(view);
		this.#setMode({ kind: "new" });
		// Unsent messages stay in storage (unless discarded first) and go out next time.
		this.client.close();
	}

	// --- incoming -----------------------------------------------------------------------

	#onWelcome(welcome: WelcomeFrame): void {
		// Only the first welcome places the divider: later ones come after this visit's reading.
		if (this.#readOnOpen === undefined && welcome.read !== undefined) this.#readOnOpen = welcome.read;
		for (const receipt of welcome.receipts ?? []) this.#noteUser(receipt.user);
		this.#noteUser(welcome.user);
		this.#renderOnline();
		this.#relayout();
		// The server's limits replace the defaults: what fits may have changed.
		updateComposer();
	}

	#onMessage(message: ChatMessage): void {
		if (this.#views.has(message.msgId)) return;
		const stick = this.#atBottom();
		this.#noteUser(message.author, message.ts);
		if (this.#typing.stopped(message.author.id)) this.#renderTyping();
		const view = this.#renderMessage(message);
		ui.timeline.append(view.li);
		this.#order.push(view);
		this.#noteSeq(message.seq);
		this.#renderSaga(message.msgId);
		this.#relayout();
		if (stick) this.#scrollToBottom();
	}

	#onRetract(retract: RetractEvent): void {
		this.#noteSeq(retract.seq);
		const view = this.#views.get(retract.msgId);
		if (view === undefined) this.#retracted.set(retract.msgId, { reason: retract.reason, seq: retract.seq });
		else this.#markRemoved(view, retract.reason, retract.seq);
		// Replies quoting it now say it is gone.
		for (const quote of ui.timeline.querySelectorAll<HTMLElement>(".quote")) {
			if (quote.dataset.target === retract.msgId) this.#markQuoteRemoved(quote);
		}
		if (this.#mode.kind === "edit" && this.#mode.msgId === retract.msgId) {
			this.cancelMode();
			showNotice("The message you were editing was removed.");
		}
		this.#relayout();
	}

	/**
	 * An edit or a reaction, folded in by the client library's own rule (`applyEvent`, the one
	 * the React view uses): an edit only when newer than the text's `editSeq`, a reaction only
	 * when newer than the counts a replayed or paged message came with.
	 */
	#onChange(event: MessageEditedEvent | ReactionEvent): void {
		this.#noteSeq(event.seq);
		// A message not on screen comes with its latest text and counts when an older page brings it.
		const view = this.#views.get(event.msgId);
		if (view === undefined) return;
		const next = applyEvent([view.message], event, 1, this.client.user?.id)[0];
		if (next === undefined || next === view.message) return;
		view.message = next;
		if (event.type === "message.edited") {
			this.#renderBody(view);
			this.#renderEdited(view);
		} else {
			this.#renderChips(view);
		}
	}

	#onTyping(user: UserRef): void {
		if (user.id === this.client.user?.id) return;
		this.#noteUser(user);
		if (this.#typing.heard(user, Date.now())) this.#renderTyping();
	}

	#onReceipt(receipt: ReceiptFrame): void {
		this.#noteUser(receipt.user);
		this.#renderSeenBy();
	}

	/** Remembers a user's name for mentions and `@` autocomplete; `at` orders the suggestions. */
	#noteUser(user: UserRef, at = Date.now()): void {
		const known = this.#people.get(user.id);
		this.#people.set(user.id, { id: user.id, name: user.name, lastSeen: Math.max(at, known?.lastSeen ?? 0) });
	}

	get people(): Iterable<SeenUser> {
		return this.#people.values();
	}

	#onSynced(): void {
		ui.loadOlder.hidden = this.#oldestSeq === undefined ? this.client.lastSeq === 0 : this.#oldestSeq <= 1;
		if (this.#firstSync) {
			this.#firstSync = false;
			// Open where the reader left off: at the unread divider when it is on screen.
			if (this.#divider.isConnected) {
				this.#divider.scrollIntoView({ block: "center" });
				return;
			}
		}
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

	// --- read state ---------------------------------------------------------------------

	#onVisibility(entries: IntersectionObserverEntry[]): void {
		for (const entry of entries) {
			const seq = Number((entry.target as HTMLElement).dataset.seq);
			// Most of it on screen, or, for a message taller than that, half the screen full of it.
			const seen =
				entry.isIntersecting &&
				(entry.intersectionRatio >= SEEN_THRESHOLD || entry.intersectionRect.height >= (entry.rootBounds?.height ?? 0) / 2);
			if (seen) this.#visible.add(seq);
			else this.#visible.delete(seq);
		}
		this.markSeen();
	}

	/**
	 * Moves the read marker to what the reader can see, only while the tab is in front and
	 * focused (a tab in the background has read nothing). The client coalesces the calls.
	 */
	markSeen(): void {
		if (this.#disposed || document.visibilityState !== "visible" || !document.hasFocus()) return;
		let seq = 0;
		for (const visible of this.#visible) seq = Math.max(seq, visible);
		if (seq === 0) return;
		// The newest message in view: the edits and reactions after it are read too.
		const newest = this.#order.at(-1)?.message.seq;
		if (seq === newest) seq = Math.max(seq, this.client.lastSeq);
		if (seq <= this.#markedSeq) return;
		this.#markedSeq = seq;
		this.client.markRead(seq);
	}

	// --- outgoing -----------------------------------------------------------------------

	submit(text: string, crossPost: string[]): void {
		const mode = this.#mode;
		if (mode.kind === "edit") {
			this.#saveEdit(mode.msgId, text);
			return;
		}
		const send: PendingSend = { id: newClientId(), text };
		if (crossPost.length > 0) send.crossPost = crossPost;
		if (mode.kind === "reply") send.replyTo = mode.to.msgId;
		ui.outgoing.append(this.#track(send, mode.kind === "reply" ? mode.to : undefined).li);
		this.#setMode({ kind: "new" });
		this.#renderQueue();
		this.#scrollToBottom();
	}

	/** Messages a previous visit left unsent: the client queued them first, so they go first on screen too. */
	#onRestored(sends: PendingSend[]): void {
		const fresh = sends.filter((send) => !this.#outgoing.has(send.id));
		ui.outgoing.prepend(...fresh.map((send) => this.#track(send, this.#replyRef(send.replyTo)).li));
		this.#renderQueue();
		if (fresh.length > 0)
			showNotice(
				`${plural(fresh.length, "message")} from your last visit ${fresh.length === 1 ? "was" : "were"} not sent yet; queued again.`,
				"info",
			);
	}

	/** A bubble for one send, and its outcome; a send with an id already queued joins it, never doubles. */
	#track(send: PendingSend, quoted: ReplyRef | undefined): OutgoingView {
		const li = el("li", "msg mine pending");
		li.dataset.clientId = send.id;
		const badge = el("span", "badge");
		const meta = el("div", "meta");
		meta.append(userText("span", "author", this.displayName), badge);
		const crossPost = send.crossPost ?? [];
		const note = el("p", "note", crossPost.length > 0 ? `also to ${crossPost.map((room) => `#${room}`).join(", ")}` : "");
		note.hidden = crossPost.length === 0;
		const actions = el("div", "actions");
		li.append(meta);
		if (quoted !== undefined) li.append(this.#renderQuote(quoted));
		li.append(userText("p", "text", send.text), note, actions);
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
		const options: SendOptions = { id: send.id };
		if (send.crossPost !== undefined) options.crossPost = send.crossPost;
		if (send.replyTo !== undefined) options.replyTo = send.replyTo;
		this.client.send(send.text, options).then(
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
			const quoted = this.#replyRef(send.replyTo);
			if (quoted !== undefined && this.#mode.kind === "new") this.#setMode({ kind: "reply", to: quoted });
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

	// --- composer modes: reply and edit -------------------------------------------------

	/** The quote a reply to `msgId` shows, from the message on screen. */
	#replyRef(msgId: string | undefined): ReplyRef | undefined {
		const view = msgId === undefined ? undefined : this.#views.get(msgId);
		if (view === undefined) return undefined;
		const { message } = view;
		return { msgId: message.msgId, author: message.author, excerpt: excerpt(message.text) };
	}

	startReply(msgId: string): void {
		const to = this.#replyRef(msgId);
		if (to === undefined) return;
		if (this.#mode.kind === "edit") this.cancelMode();
		this.#setMode({ kind: "reply", to });
		ui.text.focus();
	}

	/** Puts one of your messages in the composer; Enter saves, Escape puts the draft back. */
	startEdit(msgId: string): void {
		const view = this.#views.get(msgId);
		if (view === undefined || view.message.retractedBy !== undefined || view.deleting !== undefined) return;
		const draft = this.#mode.kind === "edit" ? this.#mode.draft : ui.text.value;
		const crossPost = this.#mode.kind === "edit" ? this.#mode.crossPost : ui.crossPost.value;
		this.#setMode({ kind: "edit", msgId, draft, crossPost });
		ui.text.value = view.message.text;
		ui.crossPost.value = "";
		updateComposer();
		ui.text.focus();
		ui.text.setSelectionRange(ui.text.value.length, ui.text.value.length);
		view.li.scrollIntoView({ block: "nearest" });
	}

	/** Up-arrow in an empty composer: edit your latest message. */
	editLast(): boolean {
		const seq = lastEditable(this.#summaries(), this.client.user?.id);
		const view = this.#order.find((candidate) => candidate.message.seq === seq);
		if (view === undefined) return false;
		this.startEdit(view.message.msgId);
		return true;
	}

	cancelMode(): void {
		const mode = this.#mode;
		this.#setMode({ kind: "new" });
		if (mode.kind === "edit") {
			ui.text.value = mode.draft;
			ui.crossPost.value = mode.crossPost;
		}
		updateComposer();
		ui.text.focus();
	}

	#saveEdit(msgId: string, text: string): void {
		const view = this.#views.get(msgId);
		this.cancelMode();
		if (view === undefined || text === view.message.text) return;
		view.li.dataset.saving = "true";
		this.client.edit(msgId, text).then(
			() => delete view.li.dataset.saving,
			(error: ParleyClientError) => {
				delete view.li.dataset.saving;
				if (!this.#disposed) showNotice(`Could not save the edit: ${error.message}`);
			},
		);
	}

	#setMode(mode: ComposerMode): void {
		for (const view of this.#views.values()) view.li.classList.remove("editing");
		this.#mode = mode;
		ui.context.hidden = mode.kind === "new";
		ui.crossPost.disabled = mode.kind === "edit";
		ui.send.textContent = mode.kind === "edit" ? "Save" : "Send";
		if (mode.kind === "reply") {
			ui.contextText.replaceChildren(
				el("span", "", "Replying to "),
				userText("strong", "", mode.to.author.name),
				el("span", "", ": "),
				userText("span", "excerpt", mode.to.excerpt),
			);
			ui.contextCancel.setAttribute("aria-label", "Cancel the reply");
		} else if (mode.kind === "edit") {
			this.#views.get(mode.msgId)?.li.classList.add("editing");
			ui.contextText.textContent = "Editing your message: Enter to save, Escape to cancel";
			ui.contextCancel.setAttribute("aria-label", "Cancel the edit");
		}
	}

	// --- reactions and delete -----------------------------------------------------------

	toggleReaction(msgId: string, emoji: string): void {
		const view = this.#views.get(msgId);
		if (view === undefined || view.message.retractedBy !== undefined) return;
		const mine = view.message.reactions?.some((reaction) => reaction.emoji === emoji && reaction.mine) === true;
		const call = mine ? this.client.unreact(msgId, emoji) : this.client.react(msgId, emoji);
		call.catch((error: ParleyClientError) => {
			if (!this.#disposed) showNotice(`Could not react: ${error.message}`);
		});
	}

	/** Delete, with a few seconds to undo before anything is sent. */
	#askDelete(view: MessageView): void {
		if (view.deleting !== undefined) return;
		if (this.#mode.kind === "edit" && this.#mode.msgId === view.message.msgId) this.cancelMode();
		const bar = el("div", "undo-bar");
		bar.setAttribute("role", "status");
		const undo = el("button", "link undo", "Undo");
		undo.setAttribute("aria-label", "Undo the delete");
		bar.append(el("span", "", "Deleting… "), undo);
		view.li.classList.add("deleting");
		view.li.append(bar);
		const timer = setTimeout(() => this.#sendDelete(view), UNDO_MS);
		view.deleting = { timer, bar };
		undo.addEventListener("click", () => {
			clearTimeout(timer);
			bar.remove();
			view.li.classList.remove("deleting");
			view.deleting = undefined;
			view.li.querySelector<HTMLButtonElement>(".delete")?.focus();
		});
		undo.focus();
	}

	#sendDelete(view: MessageView): void {
		const pending = view.deleting;
		if (pending === undefined) return;
		clearTimeout(pending.timer);
		pending.bar.replaceChildren(el("span", "", "Deleting…"));
		// The retract event, not this promise, updates the view: every tab sees it the same way.
		this.client.delete(view.message.msgId).then(
			() => undefined,
			(error: Error) => {
				pending.bar.remove();
				view.li.classList.remove("deleting");
				view.deleting = undefined;
				if (!this.#disposed) showNotice(`Could not delete: ${error.message}`);
			},
		);
	}

	// --- older history --------------------------------------------------------------------

	async loadOlder(): Promise<boolean> {
		const before = this.#oldestSeq ?? this.client.lastSeq + 1;
		if (before <= 1 || this.#loadingOlder || ui.loadOlder.hidden || this.#disposed) return false;
		this.#loadingOlder = true;
		ui.loadOlder.disabled = true;
		ui.loadOlder.textContent = "Loading older messages…";
		try {
			const page = await this.client.history({ before, limit: HISTORY_PAGE });
			if (this.#disposed) return false;
			const previousHeight = ui.scroller.scrollHeight;
			const previousTop = ui.scroller.scrollTop;
			// Retracts first, so a message and its removal in the same page render as removed.
			for (const event of page.events) if (event.type === "retract") this.#onRetract(event);
			// A paged message carries its latest text and its reactions as of the page.
			const fresh = page.events.filter((e): e is ChatMessage => e.type === "message" && !this.#views.has(e.msgId));
			const views = fresh.map((message) => {
				this.#noteUser(message.author, message.ts);
				return this.#renderMessage(message);
			});
			ui.timeline.prepend(...views.map((view) => view.li));
			this.#order = [...views, ...this.#order];
			for (const event of page.events) this.#noteSeq(event.seq);
			this.#relayout();
			// Keep what the reader was looking at in place.
			ui.scroller.scrollTop = previousTop + ui.scroller.scrollHeight - previousHeight;
			ui.loadOlder.hidden = page.events.length < HISTORY_PAGE || (this.#oldestSeq ?? 1) <= 1;
			return fresh.length > 0;
		} catch (error) {
			showNotice(`Could not load older messages: ${(error as Error).message}`);
			return false;
		} finally {
			this.#loadingOlder = false;
			ui.loadOlder.disabled = false;
			ui.loadOlder.textContent = "Load older messages";
			// Still at the top (a short page): the observer will not fire again by itself.
			if (!ui.loadOlder.hidden && !this.#disposed && this.#topInView()) queueMicrotask(() => void this.loadOlder());
		}
	}

	#topInView(): boolean {
		const button = ui.loadOlder.getBoundingClientRect();
		const scroller = ui.scroller.getBoundingClientRect();
		return button.bottom >= scroller.top - 200 && button.top <= scroller.bottom;
	}

	/** Scrolls to the message a quote names, loading older pages to find it if need be. */
	async #goTo(msgId: string): Promise<void> {
		for (let page = 0; !this.#views.has(msgId) && page < QUOTE_SEARCH_PAGES; page++) {
			if (!(await this.loadOlder())) break;
		}
		const view = this.#views.get(msgId);
		if (view === undefined) {
			showNotice("The quoted message is further back than the loaded history.", "info");
			return;
		}
		view.li.scrollIntoView({ block: "center" });
		view.li.focus({ preventScroll: true });
		view.li.classList.remove("flash");
		// Restart the highlight even when it is running already.
		void view.li.offsetWidth;
		view.li.classList.add("flash");
	}

	// --- rendering ----------------------------------------------------------------------

	#renderMessage(message: ChatMessage): MessageView {
		const mine = message.author.id === this.client.user?.id;
		const li = el("li", mine ? "msg mine" : "msg");
		li.dataset.seq = String(message.seq);
		li.dataset.msgid = message.msgId;
		li.dataset.author = message.author.id;
		// Focusable by script (a quote's target), not a tab stop of its own.
		li.tabIndex = -1;
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
		const body = el("p", "text");
		body.dir = "auto";
		const chips = el("div", "reactions");
		const actions = el("div", "msg-actions");
		li.append(meta);
		if (message.replyTo !== undefined) li.append(this.#renderQuote(message.replyTo));
		li.append(body, chips, note, actions);
		const view: MessageView = {
			li,
			message,
			meta,
			body,
			note,
			chips,
			actions,
		};
		this.#views.set(message.msgId, view);
		this.#renderBody(view);
		this.#renderEdited(view);
		this.#renderChips(view);
		const removed = this.#retracted.get(message.msgId);
		if (message.retractedBy !== undefined || removed !== undefined)
			this.#markRemoved(view, removed?.reason ?? "deleted", message.retractedBy ?? removed?.seq ?? message.seq);
		else this.#renderActions(view);
		this.#seenObserver.observe(li);
		return view;
	}

	/** The text, with links, code and mentions; mentions of the reader make the message stand out. */
	#renderBody(view: MessageView): void {
		const { message } = view;
		if (message.retractedBy !== undefined) return;
		const me = this.client.user?.id;
		const mentioned: MentionTarget[] = [];
		for (const id of message.mentions ?? []) {
			const name = this.#people.get(id)?.name ?? (id === me ? this.client.user?.name : undefined) ?? nameFromUserId(id);
			if (name !== undefined) mentioned.push({ id, name });
		}
		view.body.replaceChildren(...renderRich(parseRichText(message.text, me === undefined ? { mentioned } : { mentioned, me })));
		view.li.classList.toggle("mentions-me", me !== undefined && (message.mentions ?? []).includes(me));
	}

	#renderEdited(view: MessageView): void {
		view.meta.querySelector(".edited")?.remove();
		const { editedAt } = view.message;
		if (editedAt === undefined || view.message.retractedBy !== undefined) return;
		const mark = el("button", "link edited", `edited ${formatTime(editedAt)}`);
		mark.title = `Edited ${new Date(editedAt).toLocaleString()}. Show earlier versions`;
		mark.setAttribute("aria-expanded", "false");
		mark.addEventListener("click", () => void this.#toggleHistory(view, mark));
		view.meta.querySelector("time")?.after(mark);
	}

	/** The message's earlier texts, oldest first, under it; a second click hides them. */
	async #toggleHistory(view: MessageView, mark: HTMLElement): Promise<void> {
		const open = view.li.querySelector(".edit-history");
		if (open !== null) {
			open.remove();
			mark.setAttribute("aria-expanded", "false");
			return;
		}
		try {
			const history = await this.client.editHistory(view.message.msgId);
			const list = el("ol", "edit-history");
			list.setAttribute("aria-label", "Earlier versions");
			for (const version of history.versions.slice(0, -1)) {
				const item = el("li");
				const time = el("time", "", formatTime(version.at));
				time.setAttribute("datetime", new Date(version.at).toISOString());
				item.append(time, userText("span", "", version.text));
				list.append(item);
			}
			view.body.after(list);
			mark.setAttribute("aria-expanded", "true");
		} catch (error) {
			showNotice(`Could not load the edit history: ${(error as Error).message}`);
		}
	}

	#renderQuote(ref: ReplyRef): HTMLElement {
		const quote = el("button", "quote");
		quote.dataset.target = ref.msgId;
		quote.setAttribute("aria-label", `Reply to ${ref.author.name}; show the original`);
		quote.append(userText("span", "quote-author", ref.author.name), userText("span", "quote-text", ref.excerpt));
		if (ref.removed === true || this.#retracted.has(ref.msgId) || this.#views.get(ref.msgId)?.message.retractedBy !== undefined) {
			this.#markQuoteRemoved(quote);
		}
		quote.addEventListener("click", () => void this.#goTo(ref.msgId));
		return quote;
	}

	#markQuoteRemoved(quote: HTMLElement): void {
		quote.classList.add("removed");
		const text = quote.querySelector(".quote-text");
		if (text !== null) text.textContent = "Original message removed";
	}

	#renderChips(view: MessageView): void {
		const { msgId } = view.message;
		const reactions = view.message.reactions ?? [];
		view.chips.replaceChildren(
			...reactions.map((reaction) => {
				const chip = el("button", reaction.mine ? "chip mine" : "chip");
				chip.dataset.emoji = reaction.emoji;
				chip.setAttribute("aria-pressed", String(reaction.mine));
				chip.setAttribute(
					"aria-label",
					`${reaction.emoji} ${plural(reaction.count, "reaction")}${reaction.mine ? ", including yours; remove yours" : "; add yours"}`,
				);
				chip.append(el("span", "emoji", reaction.emoji), el("span", "count", String(reaction.count)));
				chip.addEventListener("click", () => this.toggleReaction(msgId, reaction.emoji));
				return chip;
			}),
		);
		view.chips.hidden = reactions.length === 0 || view.message.retractedBy !== undefined;
	}

	/** Reply, react, and for your own messages edit and delete: real buttons, reachable by keyboard. */
	#renderActions(view: MessageView): void {
		const { msgId } = view.message;
		const mine = view.message.author.id === this.client.user?.id;
		const reply = el("button", "link reply", "Reply");
		reply.setAttribute("aria-label", `Reply to ${view.message.author.name}`);
		reply.addEventListener("click", () => this.startReply(msgId));
		const react = el("button", "link react", "React");
		react.setAttribute("aria-label", "Add a reaction");
		react.setAttribute("aria-expanded", "false");
		react.setAttribute("aria-haspopup", "true");
		const picker = el("div", "picker");
		picker.setAttribute("role", "group");
		picker.setAttribute("aria-label", "Reactions");
		picker.hidden = true;
		for (const emoji of QUICK_REACTIONS) {
			const choice = el("button", "pick", emoji);
			choice.dataset.emoji = emoji;
			choice.setAttribute("aria-label", `React with ${emoji}`);
			choice.addEventListener("click", () => {
				closePicker(picker, react);
				this.toggleReaction(msgId, emoji);
				react.focus();
			});
			picker.append(choice);
		}
		picker.addEventListener("keydown", (event) => {
			if (event.key !== "Escape") return;
			event.stopPropagation();
			closePicker(picker, react);
			react.focus();
		});
		react.addEventListener("click", () => {
			if (!picker.hidden) return closePicker(picker, react);
			openPicker(picker, react);
			picker.querySelector("button")?.focus();
		});
		view.actions.replaceChildren(reply, react);
		if (mine) {
			const edit = el("button", "link edit", "Edit");
			edit.setAttribute("aria-label", "Edit this message");
			edit.addEventListener("click", () => this.startEdit(msgId));
			const remove = el("button", "link delete", "Delete");
			remove.title = "Delete this message for everyone (you can undo for a few seconds)";
			remove.setAttribute("aria-label", "Delete this message for everyone");
			remove.addEventListener("click", () => this.#askDelete(view));
			view.actions.append(edit, remove);
		}
		view.actions.append(picker);
	}

	#markRemoved(view: MessageView, reason: RetractEvent["reason"], seq: number): void {
		view.li.classList.add("removed");
		view.li.dataset.removed = reason;
		view.message = { ...view.message, text: "", retractedBy: view.message.retractedBy ?? seq };
		if (view.deleting !== undefined) {
			clearTimeout(view.deleting.timer);
			view.deleting.bar.remove();
			view.deleting = undefined;
			view.li.classList.remove("deleting");
		}
		view.body.textContent =
			reason === "compensated"
				? "Removed: the cross-post did not reach every room."
				: reason === "moderated"
					? "Removed by a moderator."
					: "Message deleted.";
		view.li.classList.remove("mentions-me");
		view.actions.replaceChildren();
		view.chips.hidden = true;
		view.meta.querySelector(".edited")?.remove();
		view.li.querySelector(".edit-history")?.remove();
		view.li.querySelector(".quote")?.remove();
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

	#summaries(): MessageSummary[] {
		return this.#order.map(({ message }) => ({
			seq: message.seq,
			authorId: message.author.id,
			ts: message.ts,
			removed: message.retractedBy !== undefined,
			reply: message.replyTo !== undefined,
		}));
	}

	/** Groups, date separators, the unread divider and the "seen by" line, from page-format's rules. */
	#relayout(): void {
		const me = this.client.user?.id;
		const readSeq = this.#readOnOpen?.seq;
		const placements = layout(this.#summaries(), {
			now: Date.now(),
			...(me === undefined ? {} : { me }),
			...(readSeq === undefined ? {} : { readSeq }),
		});
		let dividerPlaced = false;
		this.#order.forEach((view, index) => {
			const placement = placements[index];
			if (placement === undefined) return;
			view.li.classList.toggle("grouped", placement.grouped);
			if (placement.day === undefined) {
				view.day?.remove();
				view.day = undefined;
			} else {
				view.day ??= el("li", "day");
				view.day.setAttribute("role", "separator");
				view.day.textContent = placement.day;
			}
			const before: HTMLElement[] = [];
			if (view.day !== undefined) before.push(view.day);
			if (placement.firstUnread) {
				dividerPlaced = true;
				this.#divider.textContent = unreadLabel(this.#readOnOpen?.unread, UNREAD_COUNT_MAX);
				before.push(this.#divider);
			}
			placeBefore(view.li, before);
		});
		if (!dividerPlaced) this.#divider.remove();
		this.#renderSeenBy();
	}

	#renderSeenBy(): void {
		// The client keeps others' latest markers (from the welcome and `receipt` frames).
		const readers: ReaderMark[] = this.client.receipts.map(({ user, seq }) => ({ userId: user.id, name: user.name, seq }));
		const seen = seenBy(this.#summaries(), readers, this.client.user?.id);
		const view = seen === undefined ? undefined : this.#order.find((candidate) => candidate.message.seq === seen.seq);
		if (seen === undefined || view === undefined) {
			this.#seenLine.remove();
			return;
		}
		this.#seenLine.textContent = seenByText(seen.names);
		this.#seenLine.title = seen.names.join(", ");
		if (this.#seenLine.parentElement !== view.li) view.li.append(this.#seenLine);
	}

	#renderTyping(): void {
		clearTimeout(this.#typingTimer);
		const now = Date.now();
		this.#typing.expire(now);
		const me = this.client.user?.id;
		ui.typing.textContent = typingText(
			this.#typing
				.list()
				.filter((user) => user.id !== me)
				.map((user) => user.name),
		);
		// The line changes by itself when someone's time runs out: come back then.
		const next = this.#typing.nextExpiry();
		if (next !== undefined) this.#typingTimer = setTimeout(() => this.#renderTyping(), Math.max(0, next - now) + 10);
	}

	#renderOnline(): void {
		const me = this.client.user?.id;
		const people = this.client.online.sort((a, b) => a.name.localeCompare(b.name));
		for (const user of people) this.#noteUser(user, 0);
		ui.online.replaceChildren(
			...people.map((user) => {
				const li = el("li", user.id === me ? "me" : "");
				li.append(...nameWithTag(user, "name"));
				li.title = user.id;
				if (user.id === me) li.append(el("span", "you", " (you)"));
				return li;
			}),
		);
		// A room over its list limit only counts: say how many the list leaves out.
		const others = this.client.onlineCount - people.length;
		if (!this.client.onlineComplete && others > 0) ui.online.append(el("li", "more", `and ${others} more`));
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

/** Puts `nodes`, in order, immediately before `target`, moving only what is out of place. */
function placeBefore(target: Element, nodes: readonly Element[]): void {
	let cursor = target;
	for (let i = nodes.length - 1; i >= 0; i--) {
		const node = nodes[i];
		if (node === undefined) continue;
		if (cursor.previousElementSibling !== node) cursor.before(node);
		cursor = node;
	}
}

let openedPicker: { picker: HTMLElement; button: HTMLElement } | undefined;

function openPicker(picker: HTMLElement, button: HTMLElement): void {
	if (openedPicker !== undefined) closePicker(openedPicker.picker, openedPicker.button);
	picker.hidden = false;
	button.setAttribute("aria-expanded", "true");
	openedPicker = { picker, button };
}

function closePicker(picker: HTMLElement, button: HTMLElement): void {
	picker.hidden = true;
	button.setAttribute("aria-expanded", "false");
	if (openedPicker?.picker === picker) openedPicker = undefined;
}

/** What a reply quotes of a message: its first REPLY_EXCERPT_CHARS code points. */
function excerpt(text: string): string {
	const chars = [...text];
	return chars.length <= REPLY_EXCERPT_CHARS ? text : `${chars.slice(0, REPLY_EXCERPT_CHARS).join("")}…`;
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
	ui.typing.textContent = "";
	hideSuggestions();
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
	inboxPanel.show(identity, room, session.client);
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
	inboxPanel.hide();
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
	const editing = session.mode.kind === "edit";
	if (text.trim() === "") return { reason: "A message needs some text, not only spaces." };
	if (chars > max) {
		return {
			reason: `Too long to send: ${chars.toLocaleString()} characters, the limit is ${max.toLocaleString()}. Shorten it by ${(chars - max).toLocaleString()}.`,
		};
	}
	// An edit goes only where the message is: its cross-posted copies follow on the server.
	const crossPost = editing ? [] : parseCrossPost(ui.crossPost.value);
	if (typeof crossPost === "string") return { reason: crossPost };
	// The library's own verdict covers what the page does not (the frame's byte size).
	const refused = session.client.check(text, crossPost.length > 0 ? { crossPost } : {});
	if (refused !== undefined)
		return { reason: refused.code === "too_large" ? `Too long to send: ${refused.message}.` : sentence(refused.message) };
	return { crossPost };
}

function sendFromComposer(): void {
	if (session === undefined) return;
	const verdict = updateComposer();
	// Not sendable: the reason is on screen and the text stays where it can be fixed.
	if ("reason" in verdict) return;
	const editing = session.mode.kind === "edit";
	const text = ui.text.value;
	if (!editing) {
		ui.text.value = "";
		ui.crossPost.value = "";
	}
	// Saving an edit puts the draft it interrupted back in the box.
	session.submit(text, verdict.crossPost);
	hideSuggestions();
	updateComposer();
	ui.text.focus();
}

// ---------------------------------------------------------------------------------------
// @ autocomplete
// ---------------------------------------------------------------------------------------

/** The open suggestion list: where its `@` starts, the caret, who is offered, which one is active. */
let suggestions: { start: number; caret: number; users: UserRef[]; active: number } | undefined;

function updateSuggestions(): void {
	const caret = ui.text.selectionStart;
	const query = session === undefined || caret !== ui.text.selectionEnd ? undefined : mentionQuery(ui.text.value, caret);
	const users = query === undefined || session === undefined ? [] : matchMentions(session.people, query.query, session.client.user?.id);
	if (query === undefined || users.length === 0) {
		hideSuggestions();
		return;
	}
	const active = suggestions !== undefined && suggestions.start === query.start ? Math.min(suggestions.active, users.length - 1) : 0;
	suggestions = { start: query.start, caret, users, active };
	renderSuggestions();
}

function renderSuggestions(): void {
	if (suggestions === undefined) return;
	const { users, active } = suggestions;
	ui.mentions.replaceChildren(
		...users.map((user, index) => {
			const option = el("div", index === active ? "option active" : "option");
			option.id = `mention-${index}`;
			option.setAttribute("role", "option");
			option.setAttribute("aria-selected", String(index === active));
			option.append(...nameWithTag(user, "name"));
			// mousedown, not click: the textarea keeps the focus and the caret.
			option.addEventListener("mousedown", (event) => {
				event.preventDefault();
				acceptSuggestion(index);
			});
			return option;
		}),
	);
	ui.mentions.hidden = false;
	ui.text.setAttribute("aria-activedescendant", `mention-${active}`);
}

function hideSuggestions(): void {
	suggestions = undefined;
	ui.mentions.hidden = true;
	ui.mentions.replaceChildren();
	ui.text.removeAttribute("aria-activedescendant");
}

function acceptSuggestion(index: number): void {
	const user = suggestions?.users[index];
	if (suggestions === undefined || user === undefined) return;
	const done = completeMention(ui.text.value, suggestions.start, suggestions.caret, user.name);
	ui.text.value = done.text;
	ui.text.setSelectionRange(done.caret, done.caret);
	hideSuggestions();
	updateComposer();
}

/** Keys of the composer, in order: the suggestion list, then edit and reply modes, then Enter. */
function onComposerKey(event: KeyboardEvent): void {
	// Never interrupt an IME composition.
	if (event.isComposing) return;
	if (suggestions !== undefined) {
		const count = suggestions.users.length;
		if (event.key === "ArrowDown" || event.key === "ArrowUp") {
			event.preventDefault();
			suggestions.active = (suggestions.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
			renderSuggestions();
			return;
		}
		if (event.key === "Enter" || event.key === "Tab") {
			event.preventDefault();
			acceptSuggestion(suggestions.active);
			return;
		}
		if (event.key === "Escape") {
			event.preventDefault();
			hideSuggestions();
			return;
		}
	}
	if (event.key === "Escape" && session !== undefined && session.mode.kind !== "new") {
		event.preventDefault();
		session.cancelMode();
		return;
	}
	// Up-arrow in an empty box edits your last message, as in most chat apps.
	if (event.key === "ArrowUp" && ui.text.value === "" && session?.editLast() === true) {
		event.preventDefault();
		return;
	}
	// Enter sends (or saves an edit), Shift+Enter is a new line.
	if (event.key === "Enter" && !event.shiftKey) {
		event.preventDefault();
		sendFromComposer();
	}
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
	ui.text.addEventListener("input", () => {
		updateComposer();
		updateSuggestions();
		// Others see "typing…"; the client sends at most one per interval. Not for edits.
		if (session !== undefined && session.mode.kind !== "edit" && ui.text.value.trim() !== "") session.client.typing();
	});
	ui.text.addEventListener("click", () => updateSuggestions());
	ui.text.addEventListener("blur", () => hideSuggestions());
	ui.crossPost.addEventListener("input", () => updateComposer());
	ui.text.addEventListener("keydown", onComposerKey);
	ui.contextCancel.addEventListener("click", () => session?.cancelMode());
	// The read marker follows what is on screen, only while this tab is in front.
	addEventListener("focus", () => session?.markSeen());
	document.addEventListener("visibilitychange", () => session?.markSeen());
	// A click elsewhere, or Escape, closes an open reaction picker.
	document.addEventListener("click", (event) => {
		if (openedPicker === undefined) return;
		const target = event.target as Node;
		if (!openedPicker.picker.contains(target) && !openedPicker.button.contains(target))
			closePicker(openedPicker.picker, openedPicker.button);
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
	addEventListener("offline", () => {
		session?.client.suspend();
		inboxPanel.suspend();
	});
	addEventListener("online", () => {
		session?.client.resume();
		inboxPanel.resume();
	});
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
