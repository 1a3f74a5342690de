/**
 * Mints an HS256 token for local use.
 *
 *   npm run token -- --sub alice --name Alice [--rooms 'lobby,team-*'] [--admin] [--ttl 3600] [--secret S]
 *
 * The secret defaults to AUTH_SECRET from the environment, then to the local dev secret in
 * wrangler.toml, so a token minted with no flags works against `npm run dev`.
 */
import { sign } from "hono/jwt";
import { parseArgs } from "node:util";

export const LOCAL_DEV_SECRET = "parley-local-dev-secret-do-not-deploy";

export interface TokenClaims {
	sub: string;
	name: string;
	rooms?: string[];
	role?: "admin";
	/** Seconds from now; negative mints an expired token (for tests). */
	ttlSeconds?: number;
}

export async function mintToken(claims: TokenClaims, secret: string = LOCAL_DEV_SECRET): Promise<string> {
	const now = Math.floor(Date.now() / 1000);
	const payload: Record<string, unknown> = {
		sub: claims.sub,
		name: claims.name,
		iat: Math.min(now, now + (claims.ttlSeconds ?? 3600)),
		exp: now + (claims.ttlSeconds ?? 3600),
	};
	if (claims.rooms !== undefined) payload.rooms = claims.rooms;
	if (claims.role !== undefined) payload.role = claims.role;
	return await sign(payload, secret, "HS256");
}

if (import.meta.main) {
	const { values } = parseArgs({
		options: {
			sub: { type: "string" },
			name: { type: "string" },
			rooms: { type: "string" },
			admin: { type: "boolean", default: false },
			ttl: { type: "string", default: "86400" },
			secret: { type: "string" },
		},
	});
	if (values.sub === undefined) {
		console.error("usage: npm run token -- --sub <userId> [--name <display name>] [--rooms 'a,b-*'] [--admin] [--ttl seconds]");
		process.exit(2);
	}
	const ttl = Number(values.ttl);
	if (!Number.isInteger(ttl) || ttl <= 0) {
		console.error("--ttl must be a positive whole number of seconds");
		process.exit(2);
	}
	const token = await mintToken(
		{
			sub: values.sub,
			name: values.name ?? values.sub,
			rooms: values.rooms?.split(",").map((room) => room.trim()).filter((room) => room !== ""),
			role: values.admin ? "admin" : undefined,
			ttlSeconds: ttl,
		},
		values.secret ?? process.env.AUTH_SECRET ?? LOCAL_DEV_SECRET,
	);
	console.log(token);
}
