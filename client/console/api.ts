/**
 * @module
 * Calls to `/v1/admin/*` with the operator's token, and the token itself: kept in this tab's
 * sessionStorage only, sent as `Authorization: Bearer …`.
 */
import type { ErrorBody } from "../../src/errors.ts";
import { isNum } from "./format.ts";
import { app } from "./state.ts";

const TOKEN_KEY = "parley.console.token";

export class ApiError extends Error {
	/** 0 when the server could not be reached. */
	readonly status: number;
	readonly code: string;

	constructor(status: number, code: string, message: string) {
		super(message);
		this.name = "ApiError";
		this.status = status;
		this.code = code;
	}
}

export function loadToken(): void {
	app.token = sessionStorage.getItem(TOKEN_KEY) ?? "";
}

export function saveToken(token: string): void {
	app.token = token;
	sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
	app.token = "";
	sessionStorage.removeItem(TOKEN_KEY);
}

interface CallOptions {
	method?: "GET" | "POST" | "PUT";
	body?: unknown;
	/** Another token than the session's (sign-in checks a candidate before keeping it). */
	authToken?: string;
}

function errorOf(data: unknown): Partial<ErrorBody> | undefined {
	if (typeof data !== "object" || data === null || !("error" in data)) return undefined;
	const error = data.error;
	return typeof error === "object" && error !== null ? error : undefined;
}

/**
 * One API call. The answer is trusted to have the type the caller names: the server is built
 * from the same types (src/). Refusals become an ApiError with the server's code and message.
 */
export async function api<T extends object>(path: string, { method = "GET", body, authToken = app.token }: CallOptions = {}): Promise<T> {
	// Signed in through Cloudflare Access there is no token: Access adds its assertion header.
	const headers: Record<string, string> =
		authToken === "" ? { Accept: "application/json" } : { Authorization: `Bearer ${authToken}`, Accept: "application/json" };
	if (body !== undefined) headers["Content-Type"] = "application/json";
	let response: Response;
	try {
		response = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: "no-store" });
	} catch (error) {
		throw new ApiError(0, "network", `cannot reach the server (${error instanceof Error ? error.message : String(error)})`);
	}
	const text = await response.text();
	let data: unknown = null;
	try {
		data = text === "" ? null : JSON.parse(text);
	} catch {
		data = null;
	}
	if (!response.ok) {
		const error = errorOf(data);
		const code = typeof error?.code === "string" ? error.code : `http_${response.status}`;
		const message = typeof error?.message === "string" ? error.message : `HTTP ${response.status} ${response.statusText}`.trim();
		throw new ApiError(response.status, code, message);
	}
	if (data === null || typeof data !== "object")
		throw new ApiError(response.status, "bad_response", `${path}: the server did not answer JSON`);
	return data as T;
}

/** A query string of the non-empty parameters (`""` when there are none). */
export function query(params: Record<string, string | number | null | undefined>): string {
	const search = new URLSearchParams();
	for (const [key, value] of Object.entries(params))
		if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
	const text = search.toString();
	return text === "" ? "" : `?${text}`;
}

export interface Claims {
	sub?: unknown;
	name?: unknown;
	exp?: unknown;
}

/** Decodes a JWT payload for display only (the server verifies it). */
export function jwtClaims(token: string): Claims | null {
	try {
		const part = token.split(".")[1];
		if (part === undefined || part === "") return null;
		const b64 = part
			.replace(/-/g, "+")
			.replace(/_/g, "/")
			.padEnd(Math.ceil(part.length / 4) * 4, "=");
		const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
		const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
		return typeof claims === "object" && claims !== null ? claims : null;
	} catch {
		return null;
	}
}

/** A readable message for a refused credential, or null when the error is something else. */
export function authMessage(error: unknown, token: string = app.token): string | null {
	if (!(error instanceof ApiError)) return null;
	if (error.status === 401 && app.session === "access")
		return `Cloudflare Access did not vouch for this session (401 ${error.code}: ${error.message}). Reload the page to sign in again.`;
	if (error.status === 401) {
		const exp = jwtClaims(token)?.exp;
		return isNum(exp) && exp * 1000 < Date.now()
			? `This token expired at ${new Date(exp * 1000).toISOString()}. Mint a new one.`
			: `The server refused this token (401 ${error.code}: ${error.message}).`;
	}
	if (error.status === 403 && error.code === "forbidden") return `This token is not an admin (403 forbidden: ${error.message}).`;
	return null;
}

export function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
