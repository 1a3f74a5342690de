/**
 * @module
 * Client message ids: the idempotency key of a send, so they must be unique per user and room.
 */

/**
 * A random UUID. `crypto.randomUUID` only exists in secure contexts, and a chat page served
 * over plain http from a LAN address is not one, so fall back to `getRandomValues` (available
 * everywhere) to build the same v4 format.
 */
export function newClientId(): string {
	// The typings always have randomUUID; an insecure page does not.
	const randomUUID: (() => string) | undefined = crypto.randomUUID?.bind(crypto);
	if (typeof randomUUID === "function") return randomUUID();
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
