/**
 * A minimal recording WebSocket client for Node-side tests (Node 22's global WebSocket),
 * with waits that time out instead of sleeping.
 */
import type { ServerFrame } from "../../src/protocol.ts";
import { FrameLog, openWebSocket } from "./frame-log.ts";

type FrameOf<K extends ServerFrame["type"]> = Extract<ServerFrame, { type: K }>;

export class RecordingSocket {
	readonly ws: WebSocket;
	readonly #log: FrameLog<ServerFrame>;

	private constructor(ws: WebSocket) {
		this.ws = ws;
		this.#log = new FrameLog<ServerFrame>().listen(ws, (data) => (data === "pong" ? undefined : (JSON.parse(data) as ServerFrame)));
	}

	static async open(url: string, timeoutMs = 10_000): Promise<RecordingSocket> {
		return new RecordingSocket(await openWebSocket(url, timeoutMs));
	}

	get frames(): ServerFrame[] {
		return this.#log.frames;
	}

	get closed(): { code: number; reason: string } | undefined {
		return this.#log.closed;
	}

	send(frame: object | string): void {
		this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
	}

	ofType<K extends ServerFrame["type"]>(type: K): Array<FrameOf<K>> {
		return this.frames.filter((frame): frame is FrameOf<K> => frame.type === type);
	}

	/** Waits until `predicate` holds, or fails after `timeoutMs` showing the last frames. */
	async until<T>(predicate: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
		const value = await this.#log.waitFor(predicate, timeoutMs);
		if (value === undefined) throw new Error(`timed out; last frames: ${JSON.stringify(this.frames.slice(-5))}`);
		return value;
	}

	async frame<K extends ServerFrame["type"]>(
		type: K,
		match: (frame: FrameOf<K>) => boolean = () => true,
		timeoutMs?: number,
	): Promise<FrameOf<K>> {
		return await this.until(() => this.ofType(type).find(match), timeoutMs);
	}

	close(): void {
		this.ws.close(1000, "bye");
	}
}
