/**
 * @module
 * `useParleyRoom`: one room in a React component. The hook owns a `ParleyClient` for as long as
 * the component shows the same room as the same user, and re-renders from a `RoomView` snapshot
 * through `useSyncExternalStore`, so every render sees one consistent state.
 *
 * @example
 * ```tsx
 * import { useParleyRoom } from "@parley/client/react";
 *
 * function Room({ token }: { token: () => Promise<string> }) {
 *   const room = useParleyRoom({ url: "https://chat.example.com", room: "lobby", token });
 *   return (
 *     <>
 *       <p>{room.state}{room.queue.size > 0 ? `, ${room.queue.size} sending` : ""}</p>
 *       <ul>{room.messages.map((m) => <li key={m.msgId}>{m.author.name}: {m.text}</li>)}</ul>
 *       <button onClick={() => void room.send("hello")}>Say hello</button>
 *     </>
 *   );
 * }
 * ```
 */
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { ParleyClientError } from "./errors.ts";
import {
	ParleyClient,
	type ChangeOptions,
	type ParleyClientOptions,
	type SearchOptions,
	type SendOptions,
	type TokenProvider,
} from "./index.ts";
import { DEFAULT_LIMITS, type EditHistory, type SearchPage, type SendResult } from "../src/protocol.ts";
import { RoomView, type RoomSnapshot, type RoomViewOptions } from "./room-view.ts";

export type { RoomSnapshot, RoomViewOptions } from "./room-view.ts";

export interface UseParleyRoomOptions extends ParleyClientOptions, RoomViewOptions {
	/** Open the connection (default true). `false` keeps the hook idle, e.g. until signed in. */
	enabled?: boolean;
}

export interface ParleyRoom extends RoomSnapshot {
	/** The client behind the hook (undefined before the first effect and while disabled). */
	client: ParleyClient | undefined;
	/** Sends a message; resolves with the ack once stored (see `ParleyClient.send`). */
	send(text: string, options?: SendOptions): Promise<SendResult>;
	/** Retracts a message (see `ParleyClient.delete`). */
	remove(msgId: string): Promise<{ seq: number }>;
	/** Why `send(text)` would be refused at once, for a composer; undefined when it may go. */
	check(text: string, options?: SendOptions): ParleyClientError | undefined;
	/** v1.3: edits one of your messages (see `ParleyClient.edit`). */
	edit(msgId: string, text: string, options?: ChangeOptions): Promise<SendResult>;
	/** v1.3: adds an emoji to a message (see `ParleyClient.react`). */
	react(msgId: string, emoji: string, options?: ChangeOptions): Promise<SendResult>;
	/** v1.3: removes your emoji from a message (see `ParleyClient.unreact`). */
	unreact(msgId: string, emoji: string, options?: ChangeOptions): Promise<SendResult>;
	/**
	 * v1.3: call on every keystroke in the composer; throttled, live only (`ParleyClient.typing`).
	 * Named apart from the snapshot's `typing` (who else is typing).
	 */
	sendTyping(): void;
	/** v1.3: marks everything up to `seq` read; coalesced (see `ParleyClient.markRead`). */
	markRead(seq: number): void;
	/** v1.3: searches the room's live messages (see `ParleyClient.search`). */
	search(q: string, options?: SearchOptions): Promise<SearchPage>;
	/** v1.3: every text a message has had (see `ParleyClient.editHistory`). */
	editHistory(msgId: string): Promise<EditHistory>;
}

const IDLE: RoomSnapshot = {
	state: "idle",
	status: { state: "idle" },
	user: undefined,
	online: [],
	onlineCount: 0,
	onlineComplete: true,
	messages: [],
	typing: [],
	receipts: [],
	read: { seq: 0, unread: 0 },
	queue: { size: 0, inFlight: 0, heldUntil: 0 },
	outgoing: [],
	pendingChanges: [],
	lastError: undefined,
	limits: DEFAULT_LIMITS,
};

function notOpen(): ParleyClientError {
	return new ParleyClientError("closed", "the room is not open: useParleyRoom opens it after the first render, and only while enabled");
}

/**
 * Connects to a room while the component is mounted and `enabled`. A new client is made only
 * when `url`, `room`, the guest name or the kind of credentials change; a new token provider
 * (or token string) between renders is picked up on the next connect without reconnecting.
 */
export function useParleyRoom(options: UseParleyRoomOptions): ParleyRoom {
	const { url, room, guest, enabled = true } = options;
	const hasToken = options.token !== undefined;
	// The latest options, read when a client is made or asks for a token; never a reason to reconnect.
	const latest = useRef(options);
	latest.current = options;
	const [view, setView] = useState<{ client: ParleyClient; view: RoomView } | undefined>(undefined);

	useEffect(() => {
		if (!enabled) return undefined;
		const current = latest.current;
		const token: TokenProvider | undefined = hasToken
			? () => {
					const value = latest.current.token;
					return typeof value === "function" ? value() : (value ?? "");
				}
			: undefined;
		const { enabled: _enabled, maxMessages, token: _token, guest: _guest, ...clientOptions } = current;
		const client = new ParleyClient({ ...clientOptions, url, room, ...(token === undefined ? { guest } : { token }) });
		const roomView = new RoomView(client, { maxMessages });
		setView({ client, view: roomView });
		// connect() rejects for refused credentials or rooms; the snapshot's state says so.
		client.connect().catch(() => undefined);
		return () => {
			roomView.stop();
			client.close();
			setView(undefined);
		};
	}, [url, room, guest, hasToken, enabled]);

	const subscribe = useCallback((listener: () => void) => view?.view.subscribe(listener) ?? (() => undefined), [view]);
	const snapshot = useSyncExternalStore(
		subscribe,
		() => view?.view.snapshot ?? IDLE,
		() => IDLE,
	);
	const client = view?.client;
	const send = useCallback(
		(text: string, sendOptions?: SendOptions) => (client === undefined ? Promise.reject(notOpen()) : client.send(text, sendOptions)),
		[client],
	);
	const remove = useCallback((msgId: string) => (client === undefined ? Promise.reject(notOpen()) : client.delete(msgId)), [client]);
	const check = useCallback(
		(text: string, sendOptions?: SendOptions) => (client === undefined ? undefined : client.check(text, sendOptions)),
		[client],
	);
	const actions = useMemo(
		() => ({
			edit: (msgId: string, text: string, changeOptions?: ChangeOptions) =>
				client === undefined ? Promise.reject(notOpen()) : client.edit(msgId, text, changeOptions),
			react: (msgId: string, emoji: string, changeOptions?: ChangeOptions) =>
				client === undefined ? Promise.reject(notOpen()) : client.react(msgId, emoji, changeOptions),
			unreact: (msgId: string, emoji: string, changeOptions?: ChangeOptions) =>
				client === undefined ? Promise.reject(notOpen()) : client.unreact(msgId, emoji, changeOptions),
			sendTyping: () => void client?.typing(),
			markRead: (seq: number) => client?.markRead(seq),
			search: (q: string, searchOptions?: SearchOptions) =>
				client === undefined ? Promise.reject(notOpen()) : client.search(q, searchOptions),
			editHistory: (msgId: string) => (client === undefined ? Promise.reject(notOpen()) : client.editHistory(msgId)),
		}),
		[client],
	);
	return { ...snapshot, client, send, remove, check, ...actions };
}
