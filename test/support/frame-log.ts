/**
 * What a test socket received, and the one wait loop every recording socket shares: it wakes on
 * each frame or close and never waits past its deadline. Used by the Node test socket
 * (ws-client.ts), the chaos suite's socket and the in-workerd test socket.
 */
export class FrameLog<T> {
	readonly frames: T[] = [];
	closed: { code: number; reason: string } | undefined;
	#waiters: Array<() => void> = [];

	/** Records every text frame `parse` accepts, and the close, of `ws`. */
	listen(ws: WebSocket, parse: (data: string) => T | undefined): this {
		ws.addEventListener("message", (event) => {
			const frame = typeof event.data === "string" ? parse(event.data) : undefined;
			if (frame !== undefined) this.frames.push(frame);
			this.wake();
		});
		ws.addEventListener("close", (event) => {
			this.closed = { code: event.code, reason: event.reason };
			this.wake();
		});
		return this;
	}

	/** Wakes every waiter, for anything besides a frame that may satisfy one. */
	wake(): void {
		for (const waiter of this.#waiters.splice(0)) waiter();
	}

	/** The first value of `predicate` that is neither undefined nor false, or undefined after `timeoutMs`. */
	async waitFor<R>(predicate: () => R | undefined | false, timeoutMs: number): Promise<R | undefined> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const value = predicate();
			if (value !== undefined && value !== false) return value;
			const remaining = deadline - Date.now();
			if (remaining <= 0) return undefined;
			await new Promise<void>((resolve) => {
				// A poll as well as the wake-ups: some conditions depend on time, not on frames.
				const timer = setTimeout(resolve, Math.min(remaining, 200));
				this.#waiters.push(() => {
					clearTimeout(timer);
					resolve();
				});
			});
		}
	}
}

/** Opens a WebSocket and resolves once it is open; rejects if refused or not open in time. */
export async function openWebSocket(url: string, timeoutMs: number): Promise<WebSocket> {
	const ws = new WebSocket(url);
	ws.binaryType = "arraybuffer";
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => {
			ws.close();
			reject(new Error(`timed out opening ${url}`));
		}, timeoutMs);
		ws.addEventListener("open", () => {
			clearTimeout(timer);
			resolve();
		});
		ws.addEventListener("error", () => {
			clearTimeout(timer);
			reject(new Error(`could not open ${url}`));
		});
	});
	return ws;
}
