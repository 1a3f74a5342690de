/**
 * @module
 * Who is calling, read the same way on every /v1 route: by the Hono app's middleware
 * (src/app.ts) and by the socket route served in front of it (src/upgrade.ts), so a socket
 * upgrade gets exactly the sign-in paths and the per-user HTTP budget every other call gets.
 */
import { accessConfigured, authenticateAccess } from "./access.ts";
import { authenticate, type Identity } from "./auth.ts";
import type { Config } from "./config.ts";
import { ParleyError } from "./errors.ts";

/** The HTTP budget's window is a minute; a refused caller is told to wait a sixth of it. */
export const HTTP_LIMIT_RETRY_MS = 10_000;

/** What a request presents; absent parts are null. */
export interface Presented {
	/** The Authorization header. */
	authorization: string | null;
	/** Cloudflare Access's signed assertion header (ACCESS_HEADER). */
	assertion: string | null;
	/** `?token=`, read on the socket route only (a browser cannot set headers on an upgrade). */
	queryToken: string | null;
	/** `?guest=`. */
	guest: string | null;
}

/** The bearer token of an Authorization header; a malformed header is a bad credential, not an absent one. */
export function bearerToken(header: string | null | undefined): string | null {
	if (header === null || header === undefined) return null;
	return /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? "malformed";
}

/** The caller's identity, or a 401. A bearer token always wins over the Access assertion. */
export async function identify(presented: Presented, config: Config): Promise<Identity> {
	const bearer = bearerToken(presented.authorization);
	const { assertion } = presented;
	if (bearer === null && assertion !== null && accessConfigured(config)) {
		// Cloudflare Access sign-in (ACCESS_TEAM_DOMAIN, ACCESS_AUD): src/access.ts.
		return await authenticateAccess(assertion, config);
	}
	// Behind Cloudflare Access (AUTH_ACCESS_HEADER), its signed assertion header is a token too.
	const access = config.authAccessHeader ? assertion : null;
	const token = bearer ?? access ?? presented.queryToken;
	return await authenticate({ token, guest: presented.guest }, config);
}

/** A per-user budget over every HTTP call, socket upgrades included, whatever the route or room; 0 turns limits off. */
export async function spendHttpBudget(env: Env, config: Config, identity: Identity): Promise<void> {
	if (config.rateLimitPerSec > 0 && !(await env.HTTP_LIMIT.limit({ key: identity.id })).success) {
		throw new ParleyError("rate_limited", "too many requests from this user; slow down", HTTP_LIMIT_RETRY_MS);
	}
}
