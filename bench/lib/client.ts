/**
 * One bench socket on the `ws` package, and the cheap frame matchers the load generator
 * uses. Receivers at 100k+ frames/s cannot afford JSON.parse on every frame, so frames are
 * classified by searching the raw bytes for a marker (`"type":"message"`) and, where a
 * latency is needed, by reading the send stamp at the start of the message text. A frame may
 * hold several messages (Parley's v1.2 `batch`), so markers and stamps are counted, not tested.
 */
import WebSocket from "ws";
import { nowMs } from "./stats.ts";

export const MARK = {
	message: Buffer.from('"type":"message"'),
	ack: Buffer.from('"type":"ack"'),
	synced: Buffer.from('"type":"synced"'),
	error: Buffer.from('"type":"error"'),
	presence: Buffer.from('"type":"presence"'),
};

/** How many times `marker` occurs in `frame`. */
export function countOf(frame: Buffer, marker: Buffer): number {
	let count = 0;
	for (let at = frame.indexOf(marker); at >= 0; at = frame.indexOf(marker, at + marker.length)) count++;
	return count;
}
const TEXT_STAMP = Buffer.from('"text":"~');

/** Message text: `~tag~sentAtMs~n~` then padding, so any receiver can read who sent it, when, and which. */
export function stampedText(tag: string, n: number, bytes: number): string {
	const head = `~${tag}~${nowMs().toFixed(3)}~${n}~`;
	return head.length >= bytes ? head : head + "x".repeat(bytes - head.length);
}

export interface Stamp {
	tag: string;
	sentAt: number;
	n: number;
}

/** Reads the first stamp from a raw frame; `undefined` when no text is stamped. */
export function readStamp(frame: Buffer): Stamp | undefined {
	return stampAt(frame, frame.indexOf(TEXT_STAMP));
}

/** Every stamp in a frame, in order (one per message, several in a batch). */
export function eachStamp(frame: Buffer, visit: (stamp: Stamp) => void): void {
	for (let at = frame.indexOf(TEXT_STAMP); at >= 0; at = frame.indexOf(TEXT_STAMP, at + TEXT_STAMP.length)) {
		const stamp = stampAt(frame, at);
		if (stamp !== undefined) visit(stamp);
	}
}

function stampAt(frame: Buffer, at: number): Stamp | undefined {
	if (at < 0) return undefined;
	const start = at + TEXT_STAMP.length;
	const parts = frame.toString("latin1", start, Math.min(frame.length, start + 96)).split("~", 3);
	if (parts.length < 3) return undefined;
	const sentAt = Number(parts[1]);
	const n = Number(parts[2]);
	if (parts[0] === undefined || !Number.isFinite(sentAt) || !Number.isInteger(n)) return undefined;
	return { tag: parts[0], sentAt, n };
}

export type FrameHandler = (frame: Buffer) => void;

export class BenchSocket {
	/** Replaced by the scenario; frames before that (welcome, replay, presence) are dropped. */
	onFrame: FrameHandler = () => undefined;
	closed = false;
	/** Frames received after `synced` (everything but the greeting and the replay). */
	frames = 0;
	/** Of those, presence frames. */
	presenceFrames = 0;
	/** When the socket closed, the code the server gave. */
	closeCode: number | undefined;
	private ready = false;
	private readonly ws: WebSocket;

	private constructor(ws: WebSocket) {
		this.ws = ws;
	}

	/** Opens the socket and resolves once the server's `synced` frame arrived (replay done). */
	static async open(url: string, timeoutMs = 15_000): Promise<BenchSocket> {
		// Compression off for every server: the point is the server's cost, not zlib's.
		const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, skipUTF8Validation: true });
		const socket = new BenchSocket(ws);
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => fail(new Error(`no "synced" frame within ${timeoutMs} ms`)), timeoutMs);
			const fail = (error: Error): void => {
				clearTimeout(timer);
				ws.terminate();
				reject(error);
			};
			ws.once("unexpected-response", (_request, response) => {
				fail(new Error(`upgrade refused: HTTP ${response.statusCode ?? "?"}`));
			});
			ws.once("error", (error) => fail(error));
			ws.once("close", (code) => fail(new Error(`closed with ${code} before "synced"`)));
			ws.on("message", (data, isBinary) => {
				if (isBinary || !Buffer.isBuffer(data)) return;
				if (socket.ready) {
					socket.frames++;
					if (data.indexOf(MARK.presence) >= 0) socket.presenceFrames++;
					socket.onFrame(data);
					return;
				}
				if (data.indexOf(MARK.synced) >= 0) {
					clearTimeout(timer);
					ws.removeAllListeners("error");
					ws.removeAllListeners("close");
					ws.removeAllListeners("unexpected-response");
					ws.on("error", () => undefined);
					ws.on("close", (code) => {
						socket.closed = true;
						socket.closeCode = code;
					});
					socket.ready = true;
					resolve();
				}
			});
		});
		return socket;
	}

	send(frame: string): void {
		if (!this.closed) this.ws.send(frame);
	}

	/** Stops reading from the TCP socket, as a stalled client would: the server's queue for it grows. */
	stall(): void {
		this.ws.pause();
	}

	resume(): void {
		this.ws.resume();
	}

	/**
	 * The code of a close frame the server sent, as soon as it is read. `ws` reports the close
	 * only when the TCP connection ends, which a server may leave open for a while after its
	 * close frame, so the frame itself is read from the library's state.
	 */
	get closeFrameCode(): number | undefined {
		const state = this.ws as unknown as { _closeFrameReceived?: boolean; _closeCode?: number };
		return state._closeFrameReceived === true ? state._closeCode : this.closeCode;
	}

	/** Resolves once the server's close frame arrived (or the socket closed), or after `timeoutMs`. */
	async whenClosed(timeoutMs: number): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		while (!this.closed && this.closeFrameCode === undefined && Date.now() < deadline)
			await new Promise((resolve) => setTimeout(resolve, 50));
	}

	/** Bytes queued in the client that the kernel has not taken yet. */
	get buffered(): number {
		return this.ws.bufferedAmount;
	}

	close(): void {
		if (this.closed) return;
		this.closed = true;
		this.ws.terminate();
	}
}

/**
 * Opens `urls` with at most `concurrency` handshakes in flight; closes all on the first failure,
 * or when `deadline` (epoch ms) passes first.
 */
export async function openMany(
	urls: string[],
	concurrency: number,
	timeoutMs?: number,
	deadline = Number.POSITIVE_INFINITY,
): Promise<BenchSocket[]> {
	const sockets: BenchSocket[] = new Array<BenchSocket>(urls.length);
	let next = 0;
	let failure: unknown;
	const worker = async (): Promise<void> => {
		while (failure === undefined && next < urls.length) {
			if (Date.now() > deadline) {
				failure = new Error(`only ${next} of ${urls.length} sockets open by the deadline`);
				break;
			}
			const index = next++;
			try {
				sockets[index] = await BenchSocket.open(urls[index] as string, timeoutMs);
			} catch (error) {
				failure ??= error;
			}
		}
	};
	await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));
	if (failure !== undefined) {
		for (const socket of sockets) socket?.close();
		throw failure;
	}
	return sockets;
}

export function socketUrl(wsBase: string, room: string, guest: string, query?: string): string {
	return `${wsBase}/v1/rooms/${room}/ws?guest=${guest}${query === undefined ? "" : `&${query}`}`;
}

export function sendFrame(id: string, text: string, crossPost?: string[]): string {
	return JSON.stringify(crossPost === undefined ? { type: "send", id, text } : { type: "send", id, text, crossPost });
}
