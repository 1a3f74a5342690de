/**
 * A scripted fake of the server side of a room, for the client's unit tests: sockets that the
 * test opens, feeds and refuses by hand, and an HTTP answerer. No runtime-specific APIs.
 */
import { afterEach, vi } from "vitest";
import { ParleyClient } from "../../client/index.ts";
import type { ChatMessage, ParleyClientOptions, SocketLike, StatusEvent } from "../../client/index.ts";
import type { EventsPage, RoomEvent, SendFrame, ServerFrame } from "../../src/protocol.ts";

type Listener = (event: never) => void;

export class FakeSocket implements SocketLike {
	readyState = 0;
	readonly sent: string[] = [];
	readonly #listeners = new Map<string, Listener[]>();

	readonly url: URL;

	constructor(url: URL) {
		this.url = url;
	}

	addEventListener(type: string, listener: Listener): void {
		this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
	}

	#fire(type: string, event: unknown): void {
		for (const listener of this.#listeners.get(type) ?? []) (listener as (event: unknown) => void)(event);
	}

	send(data: string): void {
		if (this.readyState !== 1) throw new Error("not open");
		this.sent.push(data);
	}

	close(code = 1000, reason = ""): void {
		if (this.readyState >= 2) return;
		this.readyState = 3;
		this.#fire("close", { code, reason });
	}

	// Server side of the fake.
	open(): void {
		this.readyState = 1;
		this.#fire("open", {});
	}
	push(frame: ServerFrame | "pong"): void {
		this.#fire("message", { data: typeof frame === "string" ? frame : JSON.stringify(frame) });
	}
	refuse(): void {
		this.readyState = 3;
		this.#fire("error", {});
		this.#fire("close", { code: 1006, reason: "" });
	}
	frames(): SendFrame[] {
		return this.sent.filter((data) => data !== "ping").map((data) => JSON.parse(data) as SendFrame);
	}
}

export const message = (seq: number, text = `m${seq}`): RoomEvent => ({
	type: "message",
	seq,
	msgId: `msg-${seq}`,
	author: { id: "guest:bob", name: "bob" },
	text,
	ts: seq,
	traceId: "t",
});

export const welcome = (lastSeq: number): ServerFrame => ({
	type: "welcome",
	room: "lobby",
	user: { id: "guest:alice", name: "alice" },
	lastSeq,
	online: [{ id: "guest:alice", name: "alice" }],
});

export interface Harness {
	client: ParleyClient;
	sockets: FakeSocket[];
	requests: URL[];
	delivered: number[];
	statuses: StatusEvent[];
	socket(index: number): Promise<FakeSocket>;
}

let current: ParleyClient | undefined;
afterEach(() => {
	current?.close();
	current = undefined;
});

export function harness(
	options: Partial<ParleyClientOptions> = {},
	answer: (url: URL) => Response = () => Response.json({ room: "lobby", events: [], lastSeq: 0 }),
): Harness {
	const sockets: FakeSocket[] = [];
	const requests: URL[] = [];
	const client = new ParleyClient({
		url: "http://parley.test",
		room: "lobby",
		guest: "alice",
		backoff: { minMs: 5, maxMs: 20, factor: 2 },
		createSocket: (url) => {
			const socket = new FakeSocket(new URL(url));
			sockets.push(socket);
			return socket;
		},
		fetch: async (input) => {
			const url = new URL(input);
			requests.push(url);
			return answer(url);
		},
		...options,
	});
	current = client;
	const delivered: number[] = [];
	const statuses: StatusEvent[] = [];
	client.on("message", (m: ChatMessage) => delivered.push(m.seq));
	client.on("status", (s) => statuses.push(s));
	return {
		client,
		sockets,
		requests,
		delivered,
		statuses,
		socket: async (index) =>
			await vi.waitFor(() => sockets[index] ?? Promise.reject(new Error(`no socket #${index}`)), { timeout: 2000 }),
	};
}

export function page(events: RoomEvent[], lastSeq: number): Response {
	const body: EventsPage = { room: "lobby", events, lastSeq };
	return Response.json(body);
}

/** Connects the harness's client through socket `index`: opened, welcomed (at seq 0), synced. */
export async function goLive(h: Harness, index = 0): Promise<FakeSocket> {
	const connected = h.client.connect();
	const socket = await h.socket(index);
	socket.open();
	socket.push(welcome(0));
	socket.push({ type: "synced", through: 0 });
	await connected;
	return socket;
}
