/**
 * @module
 * One error type for the whole service. Errors are values with a code from the wire
 * contract; the HTTP status is derived from the code, never chosen at the throw site.
 */

export const ERROR_STATUS = {
	bad_request: 400,
	unauthorized: 401,
	forbidden: 403,
	not_found: 404,
	conflict: 409,
	/** Extension: a send's `after` names a message that is not stored yet; resend in order. */
	out_of_order: 409,
	too_large: 413,
	rate_limited: 429,
	read_only: 403,
	banned: 403,
	internal: 500,
	/** v1.4: another object the call needs could not be reached (a DM's peer inbox); retry. */
	unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The JSON body of every non-2xx response, and the payload of an error frame. */
export interface ErrorBody {
	code: ErrorCode;
	message: string;
	retryAfterMs?: number;
}

/**
 * The one result type: a value, or a refusal with a code from the contract. Parsers, the
 * rooms' RPC methods and the outbox all return it; `E` narrows the refusal where useful (a
 * frame's refusal also names the frame's `id`).
 */
export type Result<T, E extends ErrorBody = ErrorBody> = { ok: true; value: T } | Failure<E>;
export type Failure<E extends ErrorBody = ErrorBody> = { ok: false; error: E };

export function ok<T>(value: T): { ok: true; value: T } {
	return { ok: true, value };
}

export class ParleyError extends Error {
	readonly code: ErrorCode;
	readonly retryAfterMs: number | undefined;

	constructor(code: ErrorCode, message: string, retryAfterMs?: number) {
		super(message);
		this.name = "ParleyError";
		this.code = code;
		this.retryAfterMs = retryAfterMs;
	}

	get status(): number {
		return ERROR_STATUS[this.code];
	}

	toBody(): ErrorBody {
		return errorBody(this.code, this.message, this.retryAfterMs);
	}
}

export function errorBody(code: ErrorCode, message: string, retryAfterMs?: number): ErrorBody {
	return retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs };
}

/** Builds the failure value that RPC methods and parsers return instead of throwing. */
export function fail(code: ErrorCode, message: string, retryAfterMs?: number): Failure {
	return { ok: false, error: errorBody(code, message, retryAfterMs) };
}

/** The contract's HTTP error response. */
export function errorResponse(body: ErrorBody): Response {
	return Response.json({ error: body }, { status: ERROR_STATUS[body.code] });
}
