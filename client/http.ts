/**
 * @module
 * URLs and HTTP calls of the contract, as the client needs them: the socket URL, the history
 * route and the delete route, with either kind of credentials.
 */
import type { ErrorBody } from "../src/errors.ts";
import type { EventsPage } from "../src/protocol.ts";
import { ParleyClientError } from "./errors.ts";

/** Who the client is: a signed token, or (when the server allows guests) a guest name. */
export type Credentials = { token: string } | { guest: string };

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

function roomPath(baseUrl: string, room: string, rest: string): URL {
	const base = new URL(baseUrl);
	const prefix = base.pathname.replace(/\/+$/, "");
	base.pathname = `${prefix}/v1/rooms/${encodeURIComponent(room)}/${rest}`;
	base.search = "";
	base.hash = "";
	return base;
}

/**
 * The upgrade URL. Browsers cannot set headers on a WebSocket, so the token travels in the
 * query string, as the contract says.
 */
export function socketUrl(
	baseUrl: string,
	room: string,
	credentials: Credentials,
	since: number | undefined,
	features: readonly string[] = [],
): string {
	const url = roomPath(baseUrl, room, "ws");
	url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
	if ("token" in credentials) url.searchParams.set("token", credentials.token);
	else url.searchParams.set("guest", credentials.guest);
	if (since !== undefined) url.searchParams.set("since", String(since));
	if (features.length > 0) url.searchParams.set("features", features.join(","));
	return url.toString();
}

/** An HTTP API URL; guests identify with `?guest=` there too, tokens go in a header. */
export function apiUrl(
	baseUrl: string,
	room: string,
	rest: string,
	params: Record<string, string | number | undefined>,
	credentials: Credentials,
): string {
	const url = roomPath(baseUrl, room, rest);
	for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, String(value));
	if ("guest" in credentials) url.searchParams.set("guest", credentials.guest);
	return url.toString();
}

export function authHeaders(credentials: Credentials): Record<string, string> {
	return "token" in credentials ? { authorization: `Bearer ${credentials.token}` } : {};
}

function isErrorEnvelope(value: unknown): value is { error: ErrorBody } {
	if (typeof value !== "object" || value === null) return false;
	const error = (value as { error?: unknown }).error;
	return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string";
}

/**
 * Makes one request and returns the parsed JSON body, or throws a ParleyClientError carrying
 * the contract's error code (or `network` / `timeout` when no answer came).
 */
export async function requestJson<T>(fetchFn: FetchLike, url: string, init: RequestInit, timeoutMs: number): Promise<T> {
	let response: Response;
	try {
		response = await fetchFn(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
	} catch (error) {
		const name = (error as { name?: unknown } | null)?.name;
		if (name === "TimeoutError" || name === "AbortError") {
			throw new ParleyClientError("timeout", `no answer from ${new URL(url).pathname} within ${timeoutMs} ms`);
		}
		throw new ParleyClientError("network", `request to ${new URL(url).pathname} failed: ${String(error)}`);
	}
	const text = await response.text();
	let body: unknown;
	try {
		body = text === "" ? undefined : (JSON.parse(text) as unknown);
	} catch {
		body = undefined;
	}
	if (!response.ok) {
		if (isErrorEnvelope(body)) {
			throw new ParleyClientError(body.error.code, body.error.message, {
				status: response.status,
				retryAfterMs: body.error.retryAfterMs,
			});
		}
		throw new ParleyClientError(response.status >= 500 ? "internal" : "bad_request", `HTTP ${response.status}`, {
			status: response.status,
		});
	}
	if (body === undefined) throw new ParleyClientError("protocol", `HTTP ${response.status} without a JSON body`);
	return body as T;
}

export interface HistoryQuery {
	/** Events with seq > after, ascending. */
	after?: number;
	/** The `limit` events just before this seq, ascending. */
	before?: number;
	/** 1..500; the server's default is 50. */
	limit?: number;
}

export async function fetchEvents(
	fetchFn: FetchLike,
	baseUrl: string,
	room: string,
	credentials: Credentials,
	query: HistoryQuery,
	timeoutMs: number,
): Promise<EventsPage> {
	const url = apiUrl(baseUrl, room, "events", { after: query.after, before: query.before, limit: query.limit }, credentials);
	return await requestJson<EventsPage>(fetchFn, url, { headers: authHeaders(credentials) }, timeoutMs);
}
