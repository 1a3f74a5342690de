/**
 * @module
 * The contract's variables, read once per isolate into typed settings with safe defaults.
 * Every variable can be set locally with `wrangler dev --var NAME:VALUE`; a value that does
 * not parse falls back to the default rather than disabling a limit.
 */
import { burstOf } from "./token-bucket.ts";
import { DEFAULT_LIMITS, isRoomId, type RoomLimits, sendFrameBudget } from "./protocol.ts";

export interface Config {
	authSecret: string;
	allowGuests: boolean;
	/** An OIDC provider's JWKS URL; empty turns RS256/ES256/EdDSA tokens off. */
	authJwksUrl: string;
	/** The `iss` and an `aud` provider tokens must carry; both are required with a JWKS URL. */
	authIssuer: string;
	authAudience: string;
	/** The provider claim shown as the name (then preferred_username, email, sub). */
	authNameClaim: string;
	/** The provider claim and value (or array member) that make an admin. */
	authAdminClaim: string;
	authAdminValue: string;
	/** Whether the `Cf-Access-Jwt-Assertion` header (Cloudflare Access) is read as the token. */
	authAccessHeader: boolean;
	/** Messages per second per user in a room, across sockets and HTTP; 0 turns it off. Burst is twice this. */
	rateLimitPerSec: number;
	/** Open sockets one user may hold in one room. */
	maxSocketsPerUser: number;
	maxMessageChars: number;
	/** Never below the frame a send at the character limits can need (sendFrameBudget). */
	maxFrameBytes: number;
	outboxBaseDelayMs: number;
	outboxMaxAttempts: number;
	/** A secret in production (it may embed a token), like the signing secret beside it. */
	alertWebhookUrl: string;
	/** `whsec_…`: alerts are signed per Standard Webhooks when set (src/webhook-signature.ts). */
	alertWebhookSecret: string;
	alertStuckMs: number;
	faults: boolean;
	/** Shards of the ops index; fixed for a deployment (changing it re-maps records). */
	opsIndexShards: number;
	/** A bearer token that may read /v1/admin/metrics and nothing else; empty = admins only. */
	metricsToken: string;
	/** Rooms whose counters also carry a `room` label: an explicit list keeps cardinality bounded. */
	metricsRooms: string[];
	/** How long a room counts in memory before it sends its counters to its index shard. */
	metricsFlushMs: number;
	/** Cloudflare Access: the team (`<team>.cloudflareaccess.com`) and the application's AUD tag. */
	accessTeamDomain: string;
	accessAud: string;
	/** The team's JWKS; derived from the team domain unless set (tests point it at 127.0.0.1). */
	accessJwksUrl: string;
	/** Access users who are admins: by email, or by a group in the token's `groups` claim. */
	accessAdminEmails: string[];
	accessAdminGroups: string[];
}

/** At most this many rooms get a `room` label (METRICS_ROOMS). */
export const MAX_METRICS_ROOMS = 20;

/** The variables as the runtime hands them over: strings, possibly absent. */
export type ConfigVars = Partial<
	Record<
		| "AUTH_SECRET"
		| "ALLOW_GUESTS"
		| "AUTH_JWKS_URL"
		| "AUTH_ISSUER"
		| "AUTH_AUDIENCE"
		| "AUTH_NAME_CLAIM"
		| "AUTH_ADMIN_CLAIM"
		| "AUTH_ADMIN_VALUE"
		| "AUTH_ACCESS_HEADER"
		| "RATE_LIMIT_PER_SEC"
		| "MAX_SOCKETS_PER_USER"
		| "MAX_MESSAGE_CHARS"
		| "MAX_FRAME_BYTES"
		| "OUTBOX_BASE_DELAY_MS"
		| "OUTBOX_MAX_ATTEMPTS"
		| "ALERT_WEBHOOK_URL"
		| "ALERT_STUCK_MS"
		| "FAULTS"
		| "OPS_INDEX_SHARDS"
		| "ALERT_WEBHOOK_SECRET"
		| "METRICS_TOKEN"
		| "METRICS_ROOMS"
		| "METRICS_FLUSH_MS"
		| "ACCESS_TEAM_DOMAIN"
		| "ACCESS_AUD"
		| "ACCESS_JWKS_URL"
		| "ACCESS_ADMIN_EMAILS"
		| "ACCESS_ADMIN_GROUPS",
		string | undefined
	>
>;

function integer(value: string | undefined, fallback: number, min: number, max: number): number {
	if (value === undefined || value.trim() === "") return fallback;
	const parsed = Number(value);
	if (!Number.isInteger(parsed) || parsed < min || parsed > max) return fallback;
	return parsed;
}

/** A comma-separated list (or `separator`), trimmed, without empty entries or repeats. */
export function listVar(value: string | undefined, separator: RegExp = /[\s,]+/): string[] {
	return [
		...new Set(
			(value ?? "")
				.split(separator)
				.map((entry) => entry.trim())
				.filter((entry) => entry !== ""),
		),
	];
}

/** `myteam`, `myteam.cloudflareaccess.com` or `https://myteam.cloudflareaccess.com/` → `myteam.cloudflareaccess.com`. */
export function accessTeamHost(value: string | undefined): string {
	const host = (value ?? "")
		.trim()
		.toLowerCase()
		.replace(/^https?:\/\//, "")
		.replace(/\/+$/, "");
	if (host === "") return "";
	return host.includes(".") ? host : `${host}.cloudflareaccess.com`;
}

export function readConfig(vars: ConfigVars): Config {
	const maxMessageChars = integer(vars.MAX_MESSAGE_CHARS, DEFAULT_LIMITS.maxMessageChars, 1, 100_000);
	return {
		authSecret: vars.AUTH_SECRET ?? "",
		allowGuests: vars.ALLOW_GUESTS === "true",
		authJwksUrl: vars.AUTH_JWKS_URL?.trim() ?? "",
		authIssuer: vars.AUTH_ISSUER?.trim() ?? "",
		authAudience: vars.AUTH_AUDIENCE?.trim() ?? "",
		authNameClaim: vars.AUTH_NAME_CLAIM?.trim() || "name",
		authAdminClaim: vars.AUTH_ADMIN_CLAIM?.trim() || "role",
		authAdminValue: vars.AUTH_ADMIN_VALUE?.trim() || "admin",
		authAccessHeader: vars.AUTH_ACCESS_HEADER === "true",
		rateLimitPerSec: integer(vars.RATE_LIMIT_PER_SEC, DEFAULT_LIMITS.ratePerSec, 0, 100_000),
		maxMessageChars,
		maxSocketsPerUser: integer(vars.MAX_SOCKETS_PER_USER, 10, 1, 32_768),
		// A frame limit below what the character limit allows would make legal sends close the
		// socket (and a resending client loop); the two limits must agree, so the larger wins.
		maxFrameBytes: Math.max(
			integer(vars.MAX_FRAME_BYTES, DEFAULT_LIMITS.maxFrameBytes, 256, 1_048_576),
			sendFrameBudget(maxMessageChars),
		),
		outboxBaseDelayMs: integer(vars.OUTBOX_BASE_DELAY_MS, 1000, 1, 3_600_000),
		outboxMaxAttempts: integer(vars.OUTBOX_MAX_ATTEMPTS, 8, 1, 100),
		alertWebhookUrl: vars.ALERT_WEBHOOK_URL?.trim() ?? "",
		alertWebhookSecret: vars.ALERT_WEBHOOK_SECRET?.trim() ?? "",
		alertStuckMs: integer(vars.ALERT_STUCK_MS, 300_000, 1, 30 * 86_400_000),
		faults: vars.FAULTS === "on",
		opsIndexShards: integer(vars.OPS_INDEX_SHARDS, 4, 1, 256),
		metricsToken: vars.METRICS_TOKEN?.trim() ?? "",
		metricsRooms: listVar(vars.METRICS_ROOMS)
			.filter((room) => isRoomId(room))
			.slice(0, MAX_METRICS_ROOMS),
		metricsFlushMs: integer(vars.METRICS_FLUSH_MS, 5000, 100, 60_000),
		accessTeamDomain: accessTeamHost(vars.ACCESS_TEAM_DOMAIN),
		accessAud: vars.ACCESS_AUD?.trim() ?? "",
		accessJwksUrl:
			vars.ACCESS_JWKS_URL?.trim() ||
			(accessTeamHost(vars.ACCESS_TEAM_DOMAIN) === ""
				? ""
				: `https://${accessTeamHost(vars.ACCESS_TEAM_DOMAIN)}/cdn-cgi/access/certs`),
		accessAdminEmails: listVar(vars.ACCESS_ADMIN_EMAILS).map((email) => email.toLowerCase()),
		accessAdminGroups: listVar(vars.ACCESS_ADMIN_GROUPS, /,/),
	};
}

/** The limits a socket is told in its `welcome`. */
export function roomLimits(config: Config): RoomLimits {
	return {
		maxFrameBytes: config.maxFrameBytes,
		maxMessageChars: config.maxMessageChars,
		ratePerSec: config.rateLimitPerSec,
		burst: burstOf(config.rateLimitPerSec),
	};
}

const cache = new WeakMap<object, Config>();

/** The config for an env object, parsed once per isolate. */
export function configFor(env: ConfigVars & object): Config {
	let config = cache.get(env);
	if (config === undefined) {
		config = readConfig(env);
		cache.set(env, config);
	}
	return config;
}
