/**
 * @module
 * One POST of an alert to ALERT_WEBHOOK_URL: the JSON body, signed per Standard Webhooks with
 * ALERT_WEBHOOK_SECRET when it is set (src/webhook-signature.ts), with the alert's trace as a
 * W3C `traceparent`. The same code sends the outbox's alerts and the console's sample alert, so
 * a receiver tested with one accepts the other.
 */
import { formatTraceparent, spanIdFor } from "../trace.ts";
import { webhookHeaders } from "../webhook-signature.ts";

/** An alert webhook that has not answered by then counts as a failed delivery. */
export const WEBHOOK_TIMEOUT_MS = 5_000;

export interface AlertPost {
	url: string;
	/** `whsec_…`, or "" to send unsigned (then the receiver cannot tell who sent it). */
	secret: string;
	/** Stays the same on every retry of one alert, so receivers can drop repeats (the spec's advice). */
	id: string;
	body: object & { traceId: string };
	nowMs: number;
}

export type AlertPostResult =
	| { ok: true; status: number; signed: boolean }
	| { ok: false; error: string; status?: number; signed: boolean };

/** The request headers of a delivery; pure apart from the HMAC. */
export async function alertRequestHeaders(post: AlertPost, text: string): Promise<Record<string, string>> {
	const headers: Record<string, string> = {
		"Content-Type": "application/json",
		"User-Agent": "Parley-Alerts/1",
		// The alert's own trace, with a span of its own, so a receiver can join it to the saga's.
		traceparent: formatTraceparent(post.body.traceId, spanIdFor(`alert:${post.id}`)),
	};
	if (post.secret === "") return headers;
	return { ...headers, ...(await webhookHeaders(post.secret, post.id, Math.floor(post.nowMs / 1000), text)) };
}

export async function postAlert(post: AlertPost, fetcher: typeof fetch = fetch): Promise<AlertPostResult> {
	const signed = post.secret !== "";
	const text = JSON.stringify(post.body);
	let headers: Record<string, string>;
	try {
		headers = await alertRequestHeaders(post, text);
	} catch (error) {
		return { ok: false, error: `ALERT_WEBHOOK_SECRET is unusable: ${error instanceof Error ? error.message : String(error)}`, signed };
	}
	try {
		const response = await fetcher(post.url, { method: "POST", headers, body: text, signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
		await response.body?.cancel();
		return response.ok
			? { ok: true, status: response.status, signed }
			: { ok: false, error: `webhook answered ${response.status}`, status: response.status, signed };
	} catch (thrown) {
		return { ok: false, error: `webhook unreachable: ${thrown instanceof Error ? thrown.message : String(thrown)}`, signed };
	}
}
