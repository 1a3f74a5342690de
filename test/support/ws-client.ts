/**
 * A minimal recording WebSocket client for Node-side tests (Node 22's global WebSocket),
 * with waits that time out instead of sleeping.
 */
import type { ServerFrame } from "../../src/protocol.ts";

type FrameOf<K extends ServerFrame["type"]> = Extract<ServerFrame, { type: K }>;

export class RecordingSocket {
	readonly frames: ServerFrame[] = [];
	closed: { code: number; reason: string } | undefined;
	private waiters: Array<() => void> = [];

	readonly ws: WebSocket;

	private constructor(ws: WebSocket) {
		this.ws = ws;
		ws.addEventListener("message", (event) => {
			if (typeof event.data === "string" && event.data !== "pong") this.frames.push(JSON.parse(event.data) as ServerFrame);
			this.wake();
		});
		ws.addEventListener("close", (event) => {
			this.closed = { code: event.code, reason: event.reason };
			this.wake();
		});
	}

	static async open(url: string, timeoutMs = 10_000): Promise<RecordingSocket> {
		const ws = new WebSocket(url);
		const socket = new RecordingSocket(ws);
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`timed out opening ${url}`)), timeoutMs);
			ws.addEventListener("open", () => {
				clearTimeout(timer);
				resolve();
			});
			ws.addEventListener("error", () => {
				clearTimeout(timer);
				reject(new Error(`could not open ${url}`));
			});
		});
		return socket;
	}

	private wake(): void {
		for (const waiter of this.waiters.splice(0)) waiter();
	}

	send(frame: object | string): void {
		this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
	}

	ofType<K extends ServerFrame["type"]>(type: K): Array<FrameOf<K>> {
		return this.frames.filter((frame): frame is FrameOf<K> => frame.type === type);
	}

	async until<T>(predicate: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const value = predicate();
			if (value !== undefined && value !== false) return value;
			const remaining = deadline - Date.now();
			if (remaining <= 0) throw new Error(`timed out; last frames: ${JSON.stringify(this.frames.slice(-5))}`);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, Math.min(remaining, 250));
				this.waiters.push(() => {
					clearTimeout(timer);
					resolve();
				});
			});
		}
	}

	async frame<K extends ServerFrame["type"]>(type: K, match: (frame: FrameOf<K>) => boolean = () => true, timeoutMs?: number): Promise<FrameOf<K>> {
		return await this.until(() => this.ofType(type).find(match), timeoutMs);
	}

	close(): void {
		this.ws.close(1000, "bye");
	}
}
