/**
 * @module
 * The error the client library rejects with and reports. Server refusals keep the contract's
 * code; failures that never reached a server answer get a client-side code.
 */
import type { ErrorCode } from "../src/errors.ts";

export type ClientErrorCode =
	| ErrorCode
	/** The request never got an HTTP answer (offline, DNS, connection refused). */
	| "network"
	/** No answer within the configured time. */
	| "timeout"
	/** The client was closed (or its credentials refused) before the operation completed. */
	| "closed"
	/** The server's history is shorter than what this client already saw (its state was reset). */
	| "history_reset"
	/** The server sent something this client does not understand. */
	| "protocol";

export class ParleyClientError extends Error {
	readonly code: ClientErrorCode;
	/** The HTTP status, for errors that came from an HTTP answer. */
	readonly status: number | undefined;
	readonly retryAfterMs: number | undefined;
	/** The client message id of the send this error refers to, if any. */
	readonly id: string | undefined;

	constructor(code: ClientErrorCode, message: string, details: { status?: number; retryAfterMs?: number; id?: string } = {}) {
		super(message);
		this.name = "ParleyClientError";
		this.code = code;
		this.status = details.status;
		this.retryAfterMs = details.retryAfterMs;
		this.id = details.id;
	}
}
