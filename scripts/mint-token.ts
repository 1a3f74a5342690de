/**
 * Mints an HS256 token for local use.
 *
 *   npm run token -- --sub alice --name Alice [--rooms 'lobby,team-*'] [--admin] [--ttl 3600] [--secret S]
 *
 * The secret defaults to AUTH_SECRET from the environment, then to the local dev secret in
 * wrangler.toml, so a token minted with no flags works against `npm run dev`.
 */
import { sign } from "hono/jwt";
import { orExit, parseOptions } from "./args.ts";

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

const USAGE = `usage: npm run token -- --sub <userId> [--name <display name>] [--rooms 'a,b-*'] [--admin] [--ttl seconds] [--secret S]

  --sub <userId>     the user id (required)
  --name <name>      the display name (default: the user id)
  --rooms <list>     comma-separated room ids or prefixes ending in * (default: every room)
  --admin            mint an admin token
  --ttl <seconds>    lifetime (default 86400)
  --secret <secret>  signing secret (default: $AUTH_SECRET, then the local dev secret)
  -h, --help         show this help

Prints the token on stdout.`;

/** The claims and secret the command line asks for, or why it cannot be read. */
export function parseTokenArgs(argv: string[], env: Record<string, string | undefined>): { claims: TokenClaims; secret: string } | { help: true } | { error: string } {
	const parsed = parseOptions(argv, {
		sub: { type: "string" },
		name: { type: "string" },
		rooms: { type: "string" },
		admin: { type: "boolean", default: false },
		ttl: { type: "string", default: "86400" },
		secret: { type: "string" },
		help: { type: "boolean", short: "h", default: false },
	});
	if ("error" in parsed) return parsed;
	const { values } = parsed;
	if (values.help) return { help: true };
	if (values.sub === undefined) return { error: "--sub is required" };
	if (values.sub.trim() === "") return { error: "--sub must not be empty" };
	const ttl = Number(values.ttl);
	if (values.ttl.trim() === "" || !Number.isInteger(ttl) || ttl <= 0) return { error: "--ttl must be a positive whole number of seconds" };
	if (values.secret !== undefined && values.secret === "") return { error: "--secret must not be empty" };
	return {
		claims: {
			sub: values.sub,
			name: values.name ?? values.sub,
			rooms: values.rooms?.split(",").map((room) => room.trim()).filter((room) => room !== ""),
			role: values.admin ? "admin" : undefined,
			ttlSeconds: ttl,
		},
		secret: values.secret ?? env.AUTH_SECRET ?? LOCAL_DEV_SECRET,
	};
}

if (import.meta.main) {
	const parsed = orExit(parseTokenArgs(process.argv.slice(2), process.env), USAGE);
	console.log(await mintToken(parsed.claims, parsed.secret));
}
