/**
 * Helpers for runtime tests (inside workerd): fresh room names, tokens, sockets through the
 * real Worker entry, and waits with timeouts instead of sleeps.
 */
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { onTestFinished, vi } from "vitest";
import type { Moderation } from "../../objects/moderation.ts";
import type { Room } from "../../objects/room.ts";
import type { TaskQueue } from "../../objects/task-engine.ts";
import type { AlertView } from "../../src/ops/types.ts";
import type { TaskMessage, TaskOutcome, TaskView } from "../../src/saga/types.ts";
import type { ServerFrame } from "../../src/protocol.ts";
import { FrameLog } from "../support/frame-log.ts";
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

/** A connected test socket that records every frame it receives (`pong` kept as text). */
export class TestSocket {
	readonly ws: WebSocket;
	readonly #log: FrameLog<ServerFrame | string>;

	constructor(ws: WebSocket) {
		this.ws = ws;
		this.#log = new FrameLog<ServerFrame | string>().listen(ws, (data) => (data === "pong" ? data : (JSON.parse(data) as ServerFrame)));
	}

	get frames(): Array<ServerFrame | string> {
		return this.#log.frames;
	}

	get closed(): { code: number; reason: string } | undefined {
		return this.#log.closed;
	}

	send(frame: object | string): void {
		this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
	}

	/** Waits until `predicate` holds over the frames so far, or fails after `timeoutMs`. */
	async until<T>(predicate: (frames: Array<ServerFrame | string>) => T | undefined | false, timeoutMs = 5000): Promise<T> {
		const value = await this.#log.waitFor(() => predicate(this.frames), timeoutMs);
		if (value === undefined) throw new Error(`timed out; frames so far: ${JSON.stringify(this.frames).slice(0, 2000)}`);
		return value;
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
		return this.frames.filter((frame): frame is Extract<ServerFrame, { type: K }> => typeof frame !== "string" && frame.type === type);
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
	const socket = new TestSocket(ws);
	// A socket left open when its test ends is torn down under the runtime, which logs it.
	onTestFinished(() => socket.close());
	return socket;
}

/** Connects and waits for the replay to finish. */
export async function join(room: string, query: string): Promise<TestSocket> {
	const socket = await connect(room, query);
	await socket.frame("synced");
	return socket;
}

/** An object with an outbox: a room or an operator moderation. */
type OutboxStub = DurableObjectStub<Room> | DurableObjectStub<Moderation>;

/**
 * Replaces a room's queue producer (TaskEngine.queue), and turns its direct first attempts off
 * (TaskEngine.attemptDirectly), so every attempt goes through the stand-in; returns a function
 * that puts the real ones back.
 */
export async function replaceQueue(room: string, queue: TaskQueue): Promise<() => Promise<void>> {
	const stub = env.ROOM.getByName(room);
	const real = await runInDurableObject(stub, (instance) => {
		const original = instance.engine.queue;
		instance.engine.queue = () => queue;
		instance.engine.attemptDirectly = false;
		return original;
	});
	return async () => {
		await runInDurableObject(stub, (instance) => {
			instance.engine.queue = real;
			instance.engine.attemptDirectly = true;
		});
	};
}

/** Swallows queue sends in a room, so tests drive attempts by hand. */
export async function holdQueue(room: string): Promise<void> {
	await replaceQueue(room, { sendBatch: async () => undefined });
}

/** Moves an object's outbox clock (TaskEngine.now) on by `ms`; real time keeps running under it. */
export async function advanceClock(stub: OutboxStub, ms: number): Promise<void> {
	await runInDurableObject(stub, (instance: Room | Moderation) => {
		const before = instance.engine.now;
		instance.engine.now = () => before() + ms;
	});
}

/** Moves an object's outbox clock on until `at` (in that clock's time) has come, if it has not. */
export async function advanceClockTo(stub: OutboxStub, at: number): Promise<void> {
	const ahead = await runInDurableObject(stub, (instance: Room | Moderation) => at - instance.engine.now());
	if (ahead > 0) await advanceClock(stub, ahead);
}

/** The alerts a room raised itself (TaskEngine.alerts), before any reach the index. */
export async function roomAlerts(room: string, limit = 10): Promise<AlertView[]> {
	return await runInDurableObject(env.ROOM.getByName(room), (instance) => instance.engine.alerts(limit));
}

/** One task through a target room's barrier, as the queue consumer applies a batch of one. */
export async function applyTask(room: DurableObjectStub<Room>, task: TaskMessage, injectFault = false): Promise<TaskOutcome> {
	const [outcome] = await room.applyTasks([task], [injectFault]);
	if (outcome === undefined) throw new Error("no outcome");
	return outcome;
}

/** One target's answer to one attempt, as the queue consumer reports it. */
export async function completeTask(
	origin: DurableObjectStub<Room>,
	taskId: string,
	attempt: number,
	outcome: TaskOutcome,
): Promise<TaskView | undefined> {
	const [view] = await origin.completeTasks([{ taskId, attempt, outcome }]);
	return view;
}

/** Claims and fails one task's attempts as transient errors until the task is failed. */
export async function exhaust(origin: string, taskId: string): Promise<TaskView> {
	const stub = env.ROOM.getByName(origin);
	for (let i = 0; i < 20; i++) {
		// Skip the backoff wait: the clock moves to the retry's due time.
		const due = await stub.taskStatus(taskId);
		if (due?.state === "pending" && due.nextAttemptAt !== null) await advanceClockTo(stub, due.nextAttemptAt);
		await runDurableObjectAlarm(stub);
		const task = await stub.taskStatus(taskId);
		if (task?.state === "failed") return task;
		if (task?.state === "processing")
			await completeTask(stub, taskId, task.attempts, { status: "transient", code: "fault", message: "test failure" });
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
