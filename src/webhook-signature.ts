/**
 * @module
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): every alert POST carries
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, which is
 * `v1,` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")). The key is the secret's bytes:
 * a `whsec_<base64>` secret is base64-decoded after its prefix, as the spec's libraries do.
 * Web Crypto only, so it runs the same in the Worker, a Durable Object and Node.
 */

export const SIGNATURE_VERSION = "v1";
/** A receiver refuses timestamps further than this from its clock (the spec's default). */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export interface WebhookHeaders {
	"webhook-id": string;
	"webhook-timestamp": string;
	"webhook-signature": string;
}

function base64ToBytes(text: string): Uint8Array | undefined {
	if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
	try {
		return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
	} catch {
		return undefined;
	}
}

function bytesToBase64(bytes: ArrayBuffer): string {
	let binary = "";
	for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
	return btoa(binary);
}

/**
 * The HMAC key of a secret: `whsec_` + base64 per the spec; undefined for anything else, so a
 * mistyped secret is a configuration error rather than a key nobody can reproduce.
 */
export function secretKeyBytes(secret: string): Uint8Array | undefined {
	const trimmed = secret.trim();
	if (!trimmed.startsWith("whsec_")) return undefined;
	const bytes = base64ToBytes(trimmed.slice("whsec_".length));
	// The spec asks for 24..64 random bytes; fewer than 16 is no secret.
	return bytes !== undefined && bytes.length >= 16 ? bytes : undefined;
}

async function hmac(key: Uint8Array, content: string): Promise<string> {
	const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	return bytesToBase64(await crypto.subtle.sign("HMAC", imported, new TextEncoder().encode(content)));
}

/** The `webhook-signature` value for one message: `v1,<base64>`. Throws on a malformed secret. */
export async function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): Promise<string> {
	const key = secretKeyBytes(secret);
	if (key === undefined) throw new Error("the webhook secret must be whsec_ followed by at least 16 base64 bytes");
	return `${SIGNATURE_VERSION},${await hmac(key, `${id}.${timestampSeconds}.${body}`)}`;
}

/** The three headers of a signed delivery. */
export async function webhookHeaders(secret: string, id: string, timestampSeconds: number, body: string): Promise<WebhookHeaders> {
	return {
		"webhook-id": id,
		"webhook-timestamp": String(timestampSeconds),
		"webhook-signature": await signWebhook(secret, id, timestampSeconds, body),
	};
}

/** Equal strings in time independent of where they differ. */
function constantTimeEqual(a: string, b: string): boolean {
	if (a.length !== b.length) return false;
	let diff = 0;
	for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
	return diff === 0;
}

export type VerifyResult = { ok: true } | { ok: false; reason: "missing_headers" | "bad_timestamp" | "stale" | "bad_secret" | "no_match" };

/**
 * A receiver's check, for tests and the docs' example: headers present, timestamp within the
 * tolerance, and one of the space-separated `v1,` signatures matching.
 */
export async function verifyWebhook(
	secret: string,
	headers: Partial<Record<keyof WebhookHeaders, string | null>>,
	body: string,
	nowSeconds: number,
	toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): Promise<VerifyResult> {
	const id = headers["webhook-id"];
	const timestamp = headers["webhook-timestamp"];
	const signatures = headers["webhook-signature"];
	if (!id || !timestamp || !signatures) return { ok: false, reason: "missing_headers" };
	if (!/^[0-9]{1,12}$/.test(timestamp)) return { ok: false, reason: "bad_timestamp" };
	if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return { ok: false, reason: "stale" };
	const key = secretKeyBytes(secret);
	if (key === undefined) return { ok: false, reason: "bad_secret" };
	const expected = await hmac(key, `${id}.${timestamp}.${body}`);
	for (const entry of signatures.split(" ")) {
		const [version, signature] = entry.split(",", 2);
		if (version === SIGNATURE_VERSION && signature !== undefined && constantTimeEqual(signature, expected)) return { ok: true };
	}
	return { ok: false, reason: "no_match" };
}
