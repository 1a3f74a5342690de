/**
 * @module
 * HTTP calls the scenarios make: the API with a bearer token, full room histories paged over
 * HTTP, saga and task state from the admin API, all with bounded waits.
 */
import type { EventsPage, RoomEvent, SagaState } from "../../src/protocol.ts";
import { sleep } from "./types.ts";

export interface ApiResponse {
	status: number;
	body: unknown;
	text: string;
}

export interface ApiInit {
	method?: string;
	token?: string;
	headers?: Record<string, string>;
	/** A string is sent as is; anything else as JSON. */
	body?: unknown;
}

export async function api(base: string, path: string, init: ApiInit = {}): Promise<ApiResponse> {
	const headers: Record<string, string> = { ...init.headers };
	if (init.token !== undefined) headers.Authorization = `Bearer ${init.token}`;
	let body: string | undefined;
	if (init.body !== undefined) {
		body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
		headers["Content-Type"] ??= "application/json";
	}
	const response = await fetch(`${base}${path}`, { method: init.method ?? "GET", headers, body });
	const text = await response.text();
	let parsed: unknown;
	try {
		parsed = JSON.parse(text) as unknown;
	} catch {
		parsed = undefined;
	}
	return { status: response.status, body: parsed, text };
}

/** Every event of a room, paged 500 at a time, and its lastSeq. */
export async function history(base: string, room: string, token: string): Promise<{ events: RoomEvent[]; lastSeq: number }> {
	const events: RoomEvent[] = [];
	let lastSeq = 0;
	// Bounded: 200 pages of 500 is far beyond any scenario's traffic.
	for (let page = 0; page < 200; page++) {
		const after = events.at(-1)?.seq ?? 0;
		const response = await api(base, `/v1/rooms/${room}/events?after=${after}&limit=500`, { token });
		if (response.status !== 200) throw new Error(`history of ${room}: ${response.status} ${response.text}`);
		const body = response.body as EventsPage;
		lastSeq = body.lastSeq;
		events.push(...body.events);
		if (body.events.length < 500) break;
	}
	return { events, lastSeq };
}

export async function histories(
	base: string,
	rooms: readonly string[],
	token: string,
): Promise<{ events: Map<string, RoomEvent[]>; lastSeq: Map<string, number> }> {
	const events = new Map<string, RoomEvent[]>();
	const lastSeq = new Map<string, number>();
	for (const room of rooms) {
		const h = await history(base, room, token);
		events.set(room, h.events);
		lastSeq.set(room, h.lastSeq);
	}
	return { events, lastSeq };
}

export interface SagaBody {
	sagaId: string;
	originRoom: string;
	msgId: string;
	state: SagaState;
	steps: Array<{ taskId: string; room: string; kind: string; state: string; attempts: number; lastError: string | null }>;
}

const TERMINAL: readonly SagaState[] = ["succeeded", "compensated", "failed"];

/** Polls sagas until each is terminal or the deadline passes; returns the last state seen. */
export async function settleSagas(
	base: string,
	adminToken: string,
	sagaIds: readonly string[],
	timeoutMs: number,
): Promise<Map<string, SagaBody>> {
	const done = new Map<string, SagaBody>();
	const deadline = Date.now() + timeoutMs;
	let last = new Map<string, SagaBody>();
	while (done.size < sagaIds.length && Date.now() < deadline) {
		last = new Map();
		for (const id of sagaIds) {
			if (done.has(id)) continue;
			const response = await api(base, `/v1/admin/sagas/${encodeURIComponent(id)}`, { token: adminToken });
			if (response.status !== 200) continue;
			const saga = response.body as SagaBody;
			if (TERMINAL.includes(saga.state)) done.set(id, saga);
			else last.set(id, saga);
		}
		if (done.size < sagaIds.length) await sleep(250);
	}
	for (const [id, saga] of last) if (!done.has(id)) done.set(id, saga);
	return done;
}

/** Tasks the ops index lists as pending or processing (optionally in one room). */
export async function liveTasks(base: string, adminToken: string): Promise<Array<{ taskId: string; state: string; room: string }>> {
	const out: Array<{ taskId: string; state: string; room: string }> = [];
	for (const state of ["pending", "processing"]) {
		const response = await api(base, `/v1/admin/tasks?state=${state}&limit=500`, { token: adminToken });
		if (response.status !== 200) throw new Error(`tasks?state=${state}: ${response.status} ${response.text}`);
		out.push(...(response.body as { tasks: Array<{ taskId: string; state: string; room: string }> }).tasks);
	}
	return out;
}

/** Waits until no task is pending or processing; returns those still live at the deadline. */
export async function drainTasks(
	base: string,
	adminToken: string,
	timeoutMs: number,
): Promise<Array<{ taskId: string; state: string; room: string }>> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const live = await liveTasks(base, adminToken);
		if (live.length === 0 || Date.now() > deadline) return live;
		await sleep(300);
	}
}

export async function setFaults(
	base: string,
	adminToken: string,
	faults: { deliverFailRate?: number; retractFailRate?: number; rooms?: string[] },
): Promise<void> {
	const response = await api(base, "/v1/admin/faults", { method: "POST", token: adminToken, body: faults });
	if (response.status !== 200) throw new Error(`faults: ${response.status} ${response.text}`);
}
