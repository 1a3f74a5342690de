/**
 * Helpers for runtime tests (inside workerd): fresh room names, tokens, sockets through the
 * real Worker entry, and waits with timeouts instead of sleeps.
 */
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { onTestFinished, vi } from "vitest";
import type { TaskView } from "../../src/saga/types.ts";
import type { ServerFrame } from "../../src/protocol.ts";
import { mintToken, type TokenClaims } from "../../scripts/mint-token.ts";

export const BASE = "https://parley.test";

export function freshRoom(prefix = "room"): string {
	return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function token(claims: Partial<TokenClaims> & { sub: string }): Promise<string> {
	return await mintToken({ name: claims.sub, ...claims });
}

export async function api(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	if (init.token !== undefined) headers.set("Authorization", `Bearer ${init.token}`);
	if (init.body !== undefined && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
	return await exports.default.fetch(new Request(`${BASE}${path}`, { ...init, headers }));
}

export async function errorCode(response: Response): Promise<string | undefined> {
	const body = (await response.json()) as { error?: { code?: string } };
	return body.error?.code;
}

/** A connected test socket that records every frame it receives. */
export class TestSocket {
	readonly frames: Array<ServerFrame | string> = [];
	closed: { code: number; reason: string } | undefined;
	private waiters: Array<() => void> = [];

	readonly ws: WebSocket;

	constructor(ws: WebSocket) {
		this.ws = ws;
		ws.addEventListener("message", (event) => {
			const data = event.data as string;
			this.frames.push(data === "pong" ? data : (JSON.parse(data) as ServerFrame));
			this.wake();
		});
		ws.addEventListener("close", (event) => {
			this.closed = { code: event.code, reason: event.reason };
			this.wake();
		});
	}

	private wake(): void {
		for (const waiter of this.waiters.splice(0)) waiter();
	}

	send(frame: object | string): void {
		this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
	}

	/** Waits until `predicate` holds over the frames so far, or fails after `timeoutMs`. */
	async until<T>(predicate: (frames: Array<ServerFrame | string>) => T | undefined | false, timeoutMs = 5000): Promise<T> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const value = predicate(this.frames);
			if (value !== undefined && value !== false) return value;
			const remaining = deadline - Date.now();
			if (remaining <= 0) throw new Error(`timed out; frames so far: ${JSON.stringify(this.frames).slice(0, 2000)}`);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, remaining);
				this.waiters.push(() => {
					clearTimeout(timer);
					resolve();
				});
			});
		}
	}

	async frame<K extends ServerFrame["type"]>(
		type: K,
		match: (frame: Extract<ServerFrame, { type: K }>) => boolean = () => true,
		timeoutMs?: number,
	): Promise<Extract<ServerFrame, { type: K }>> {
		return await this.until(
			(frames) =>
				frames.find(
					(frame): frame is Extract<ServerFrame, { type: K }> =>
						typeof frame !== "string" && frame.type === type && match(frame as Extract<ServerFrame, { type: K }>),
				),
			timeoutMs,
		);
	}

	ofType<K extends ServerFrame["type"]>(type: K): Array<Extract<ServerFrame, { type: K }>> {
		return this.frames.filter(
			(frame): frame is Extract<ServerFrame, { type: K }> => typeof frame !== "string" && frame.type === type,
		);
	}

	async waitClosed(timeoutMs?: number): Promise<{ code: number; reason: string }> {
		return await this.until(() => this.closed, timeoutMs);
	}

	close(): void {
		try {
			this.ws.close(1000, "bye");
		} catch {
			// already closed
		}
	}
}

export async function connect(room: string, query: string): Promise<TestSocket> {
	const response = await exports.default.fetch(
		new Request(`${BASE}/v1/rooms/${room}/ws?${query}`, { headers: { Upgrade: "websocket" } }),
	);
	const ws = response.webSocket;
	if (ws === null) throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
	ws.accept();
	return new TestSocket(ws);
}

/** Connects and waits for the replay to finish. */
export async function join(room: string, query: string): Promise<TestSocket> {
	const socket = await connect(room, query);
	await socket.frame("synced");
	return socket;
}

/** Swallows queue sends in a room, so tests drive attempts by hand. */
export async function holdQueue(room: string): Promise<void> {
	await runInDurableObject(env.ROOM.getByName(room), (instance) => {
		const real = (instance as unknown as { env: Env }).env;
		Object.defineProperty(instance, "env", { value: { ...real, OUTBOX: { sendBatch: async () => undefined } }, configurable: true });
	});
}

/** Claims and fails one task's attempts as transient errors until the task is failed. */
export async function exhaust(origin: string, taskId: string): Promise<TaskView> {
	const stub = env.ROOM.getByName(origin);
	for (let i = 0; i < 20; i++) {
		await runInDurableObject(stub, (_i, state) => {
			state.storage.sql.exec("UPDATE outbox SET next_attempt_at = 0 WHERE task_id = ? AND state = 'pending'", taskId);
		});
		await runDurableObjectAlarm(stub);
		const task = await stub.taskStatus(taskId);
		if (task?.state === "failed") return task;
		if (task?.state === "processing") await stub.completeTask(taskId, task.attempts, { status: "transient", code: "fault", message: "test failure" });
	}
	throw new Error(`task ${taskId} never failed`);
}

/**
 * Takes the error lines a test provokes on purpose off the output (the suite stays quiet), and
 * tells whether one with the given `msg` was logged; restored when the test ends.
 */
export function captureErrors(): { seen(msg: string): boolean } {
	const lines: string[] = [];
	const spy = vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
		lines.push(args.map(String).join(" "));
	});
	onTestFinished(() => spy.mockRestore());
	return { seen: (msg) => lines.some((line) => line.includes(`"msg":"${msg}`)) };
}
