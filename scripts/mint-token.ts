/**
 * Mints an HS256 token for local use.
 *
 *   npm run token -- --sub alice --name Alice [--rooms 'lobby,team-*'] [--admin] [--ttl 3600] [--secret S]
 *
 * The command signs with `--secret`, else $AUTH_SECRET, else the AUTH_SECRET in `.dev.vars`
 * (written by `npm run dev` on its first run), so a token minted with no flags works against
 * `npm run dev`. With none of them it exits 1 rather than guess.
 *
 * `mintToken` itself, as the tests, chaos suite and bench import it, signs with
 * TEST_AUTH_SECRET (scripts/test-secret.ts) unless given a secret: that is the secret every
 * runtime they start is given.
 */
import { sign } from "hono/jwt";
import { orExit, parseOptions } from "./args.ts";
import { TEST_AUTH_SECRET } from "./test-secret.ts";

export interface TokenClaims {
	sub: string;
	name: string;
	rooms?: string[];
	role?: "admin";
	/** Seconds from now; negative mints an expired token (for tests). */
	ttlSeconds?: number;
}

export async function mintToken(claims: TokenClaims, secret: string = TEST_AUTH_SECRET): Promise<string> {
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
  --secret <secret>  signing secret (default: $AUTH_SECRET, then AUTH_SECRET in .dev.vars)
  -h, --help         show this help

Prints the token on stdout.`;

export const NO_SECRET = "no signing secret: run `npm run dev` once (it writes AUTH_SECRET to .dev.vars), or pass --secret";

/**
 * The claims and secret the command line asks for, or why it cannot be read. `secret` is
 * undefined when neither `--secret`, `env.AUTH_SECRET` nor `devVarsSecret()` gives one.
 */
export function parseTokenArgs(
	argv: string[],
	env: Record<string, string | undefined>,
	devVarsSecret: () => string | undefined = () => undefined,
): { claims: TokenClaims; secret: string | undefined } | { help: true } | { error: string } {
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
	if (values.ttl.trim() === "" || !Number.isInteger(ttl) || ttl <= 0)
		return { error: "--ttl must be a positive whole number of seconds" };
	if (values.secret !== undefined && values.secret === "") return { error: "--secret must not be empty" };
	return {
		claims: {
			sub: values.sub,
			name: values.name ?? values.sub,
			rooms: values.rooms
				?.split(",")
				.map((room) => room.trim())
				.filter((room) => room !== ""),
			role: values.admin ? "admin" : undefined,
			ttlSeconds: ttl,
		},
		secret: values.secret ?? (env.AUTH_SECRET || undefined) ?? devVarsSecret(),
	};
}

if (import.meta.main) {
	// Node-only, and only here: the tests import this file inside workerd too.
	const { DEV_VARS, readDevVarsSecret } = await import("./dev.ts");
	const parsed = orExit(
		parseTokenArgs(process.argv.slice(2), process.env, () => readDevVarsSecret(DEV_VARS)),
		USAGE,
	);
	if (parsed.secret === undefined) {
		console.error(NO_SECRET);
		process.exit(1);
	}
	console.log(await mintToken(parsed.claims, parsed.secret));
}
