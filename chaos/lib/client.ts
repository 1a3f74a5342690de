/**
 * @module
 * A chat socket for the suite (Node 22's global WebSocket): records every frame, resolves a
 * send when its ack or its error arrives, and never waits without a deadline.
 */
import type { AckFrame, ErrorFrame, ServerFrame } from "../../src/protocol.ts";
import { FrameLog, openWebSocket } from "../../test/support/frame-log.ts";

export type SendOutcome =
	| { kind: "ack"; ack: AckFrame; ms: number }
	| { kind: "error"; error: ErrorFrame; ms: number }
	| { kind: "closed"; ms: number }
	| { kind: "timeout"; ms: number };

interface Pending {
	resolve(outcome: SendOutcome): void;
	startedAt: number;
	timer: ReturnType<typeof setTimeout>;
}

export class ChatSocket {
	/** Text frames that were not JSON (only `pong` is expected). */
	readonly nonJson: string[] = [];
	private readonly pending = new Map<string, Pending>();
	readonly #log = new FrameLog<ServerFrame>();

	readonly ws: WebSocket;

	private constructor(ws: WebSocket) {
		this.ws = ws;
		ws.addEventListener("message", (event) => {
			if (typeof event.data !== "string") {
				this.nonJson.push("<binary>");
			} else {
				let frame: ServerFrame | undefined;
				try {
					frame = JSON.parse(event.data) as ServerFrame;
				} catch {
					this.nonJson.push(event.data);
				}
				if (frame !== undefined) this.receive(frame);
			}
			this.#log.wake();
		});
		ws.addEventListener("close", (event) => {
			this.#log.closed = { code: event.code, reason: event.reason };
			for (const [id, pending] of this.pending) {
				clearTimeout(pending.timer);
				pending.resolve({ kind: "closed", ms: performance.now() - pending.startedAt });
				this.pending.delete(id);
			}
			this.#log.wake();
		});
	}

	/** Opens a socket; rejects if the upgrade is refused or does not finish in time. */
	static async open(url: string, timeoutMs = 10_000): Promise<ChatSocket> {
		return new ChatSocket(await openWebSocket(url, timeoutMs));
	}

	/** Opens a socket and waits for the replay to finish. */
	static async join(url: string, timeoutMs = 10_000): Promise<ChatSocket> {
		const socket = await ChatSocket.open(url, timeoutMs);
		await socket.until(() => socket.frames.some((f) => f.type === "synced"), timeoutMs);
		return socket;
	}

	get frames(): ServerFrame[] {
		return this.#log.frames;
	}

	get closed(): { code: number; reason: string } | undefined {
		return this.#log.closed;
	}

	private receive(frame: ServerFrame): void {
		this.#log.frames.push(frame);
		const id = frame.type === "ack" || frame.type === "error" ? frame.id : undefined;
		const pending = id === undefined ? undefined : this.pending.get(id);
		if (id === undefined || pending === undefined) return;
		this.pending.delete(id);
		clearTimeout(pending.timer);
		const ms = performance.now() - pending.startedAt;
		pending.resolve(frame.type === "ack" ? { kind: "ack", ack: frame, ms } : { kind: "error", error: frame as ErrorFrame, ms });
	}

	get isOpen(): boolean {
		return this.ws.readyState === WebSocket.OPEN;
	}

	/** Sends a raw frame (text or binary); returns false if the socket is not open. */
	raw(data: string | Uint8Array): boolean {
		if (!this.isOpen) return false;
		this.ws.send(data);
		return true;
	}

	/** Sends a message and resolves with its ack, its error, the close, or a timeout. */
	async send(id: string, text: string, crossPost?: string[], timeoutMs = 15_000): Promise<SendOutcome> {
		const startedAt = performance.now();
		if (!this.isOpen) return { kind: "closed", ms: 0 };
		return await new Promise<SendOutcome>((resolve) => {
			const timer = setTimeout(() => {
				this.pending.delete(id);
				resolve({ kind: "timeout", ms: performance.now() - startedAt });
			}, timeoutMs);
			this.pending.set(id, { resolve, startedAt, timer });
			this.ws.send(JSON.stringify(crossPost === undefined ? { type: "send", id, text } : { type: "send", id, text, crossPost }));
		});
	}

	ofType<K extends ServerFrame["type"]>(type: K): Array<Extract<ServerFrame, { type: K }>> {
		return this.frames.filter((f): f is Extract<ServerFrame, { type: K }> => f.type === type);
	}

	/** Waits until the predicate holds; false on timeout (the caller decides if that is a violation). */
	async until(predicate: () => boolean, timeoutMs = 10_000): Promise<boolean> {
		return (await this.#log.waitFor(predicate, timeoutMs)) === true;
	}

	close(): void {
		try {
			this.ws.close(1000, "bye");
		} catch {
			// Already closing.
		}
	}
}
