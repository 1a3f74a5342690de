/**
 * @module
 * Who is calling, and may they use this room. A token's header alg picks its path, and
 * nothing else does: HS256 is checked against `AUTH_SECRET` (when set); RS256, ES256 and
 * EdDSA against the identity provider's JWKS (when `AUTH_JWKS_URL` is set), with the issuer
 * and audience pinned; every other alg, `none` included, is refused. Both paths use Hono's
 * Web Crypto implementation with the algorithm pinned, and the claims are then held to the
 * same contract.
 */
import { decode, verify } from "hono/jwt";
import { ParleyError } from "./errors.ts";
import { JWKS_ALGORITHMS, type JwksAlgorithm, type JwksCache, jwksCacheFor } from "./jwks.ts";
import { codePointLength, GUEST_NAME_PATTERN, hasLoneSurrogate, ROOM_ID_PATTERN } from "./protocol.ts";

export interface Identity {
	id: string;
	name: string;
	admin: boolean;
	/** Room ids and `prefix*` patterns; `null` means every room. */
	rooms: string[] | null;
	guest: boolean;
	/** When the token expires (epoch seconds); absent for guests. Open sockets honour it too. */
	exp?: number;
}

export interface Credentials {
	token: string | null;
	guest: string | null;
}

export interface AuthSettings {
	authSecret: string;
	allowGuests: boolean;
	/** The identity provider's JWKS URL; empty turns the RS256/ES256/EdDSA path off. */
	authJwksUrl?: string;
	/** The `iss` a provider's token must carry; required with a JWKS URL. */
	authIssuer?: string;
	/** A value the provider token's `aud` must be or contain; required with a JWKS URL. */
	authAudience?: string;
	/** The provider claim read as the display name (then `preferred_username`, `email`, `sub`). */
	authNameClaim?: string;
	/** The provider claim that marks an admin, and the value (or array member) it must hold. */
	authAdminClaim?: string;
	authAdminValue?: string;
	/** Decides admin from a provider token's claims instead of the claim and value above (Cloudflare Access). */
	authAdmin?: (claims: Record<string, unknown>) => boolean;
}

/** What authentication may be handed besides the settings; tests inject a JWKS cache. */
export interface AuthDeps {
	jwks?: JwksCache;
}

/** How verified claims become a name and the admin flag. HS256 tokens always use the defaults. */
export interface ClaimMapping {
	/** Claims tried in order for the name; the `sub` is the last resort when `subAsName` is set. */
	nameClaims: string[];
	subAsName: boolean;
	admin: (claims: Record<string, unknown>) => boolean;
}

/** Today's HS256 contract: the `name` claim, and `role` exactly `"admin"`. */
export const DEFAULT_CLAIM_MAPPING: ClaimMapping = { nameClaims: ["name"], subAsName: false, admin: (claims) => claims.role === "admin" };

/** A claim holds the admin value when it is that string, or an array with it as a member. */
export function adminByClaim(claim: string, value: string): (claims: Record<string, unknown>) => boolean {
	return (claims) => {
		if (!Object.hasOwn(claims, claim)) return false;
		const held = claims[claim];
		if (Array.isArray(held)) return held.some((entry) => entry === value);
		if (typeof held === "boolean" || typeof held === "number") return String(held) === value;
		return held === value;
	};
}

/**
 * At most this many entries in a `rooms` claim: the identity rides in each socket's attachment
 * (16 KiB), so a longer claim is refused with 401 before any upgrade rather than failing after.
 */
export const MAX_ROOM_CLAIMS = 128;

/** Controls that can forge or reorder what a reader sees: C0, DEL, C1, bidi marks and overrides, line separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNSAFE_IN_NAMES = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu;
/** Something a reader can see: not white space, not a format character, not a filler. */
const VISIBLE = /[^\p{Cf}\p{Z}\s\u115f\u1160\u3164\uffa0]/u;

/**
 * The name shown for a user: the claim with control and bidi characters removed and white
 * space folded, or the user id when nothing visible is left. Normalised rather than refused:
 * a name from an identity provider is not the user's to fix.
 */
export function displayName(name: string, fallback: string): string {
	const cleaned = name.replace(UNSAFE_IN_NAMES, " ").replace(/\s+/gu, " ").trim();
	return VISIBLE.test(cleaned) ? cleaned : fallback;
}

const ROOM_PATTERN_CLAIM = /^([a-z0-9][a-z0-9._-]{0,63}|[a-z0-9._-]{0,63}\*)$/;

function claimText(value: unknown, max: number): string | undefined {
	if (typeof value !== "string") return undefined;
	const length = codePointLength(value);
	return length >= 1 && length <= max ? value : undefined;
}

/** Holds verified claims to the contract; returns undefined when any is missing or malformed. */
export function identityFromClaims(claims: Record<string, unknown>, mapping: ClaimMapping = DEFAULT_CLAIM_MAPPING): Identity | undefined {
	const id = claimText(claims.sub, 64);
	let rawName: string | undefined;
	for (const claim of mapping.nameClaims) {
		rawName = claimText(claims[claim], 64);
		if (rawName !== undefined) break;
	}
	if (rawName === undefined && mapping.subAsName) rawName = id;
	if (id === undefined || rawName === undefined || id.startsWith("guest:")) return undefined;
	if (id.match(UNSAFE_IN_NAMES) !== null || hasLoneSurrogate(id) || hasLoneSurrogate(rawName)) return undefined;
	const name = displayName(rawName, id);
	if (typeof claims.exp !== "number" || !Number.isFinite(claims.exp)) return undefined;
	let rooms: string[] | null = null;
	if (claims.rooms !== undefined) {
		if (!Array.isArray(claims.rooms) || claims.rooms.length > MAX_ROOM_CLAIMS) return undefined;
		rooms = [];
		for (const room of claims.rooms) {
			if (typeof room !== "string" || !ROOM_PATTERN_CLAIM.test(room)) return undefined;
			rooms.push(room);
		}
	}
	return { id, name, admin: mapping.admin(claims), rooms, guest: false, exp: claims.exp };
}

/**
 * Resolves credentials to an identity or throws `unauthorized`. A token wins over a guest
 * name when both are given.
 */
export async function authenticate(credentials: Credentials, settings: AuthSettings, deps: AuthDeps = {}): Promise<Identity> {
	if (credentials.token !== null && credentials.token !== "") {
		const jwksUrl = settings.authJwksUrl ?? "";
		if (settings.authSecret === "" && jwksUrl === "")
			throw new ParleyError("unauthorized", "token auth is not configured on this server");
		let alg: unknown;
		try {
			alg = (decode(credentials.token).header as { alg?: unknown }).alg;
		} catch {
			throw new ParleyError("unauthorized", "the token is malformed");
		}
		if (alg === "HS256") {
			if (settings.authSecret === "") throw new ParleyError("unauthorized", "HS256 tokens are not accepted on this server");
			let claims: Record<string, unknown>;
			try {
				claims = (await verify(credentials.token, settings.authSecret, "HS256")) as Record<string, unknown>;
			} catch (error) {
				throw new ParleyError("unauthorized", tokenRefusal(error));
			}
			const identity = identityFromClaims(claims);
			if (identity === undefined) throw new ParleyError("unauthorized", "the token lacks a valid sub, name or exp claim");
			return identity;
		}
		if (typeof alg === "string" && (JWKS_ALGORITHMS as readonly string[]).includes(alg)) {
			if (jwksUrl === "") throw new ParleyError("unauthorized", `${alg} tokens are not accepted on this server`);
			return await providerIdentity(credentials.token, alg as JwksAlgorithm, settings, deps.jwks ?? jwksCacheFor(jwksUrl));
		}
		throw new ParleyError("unauthorized", `the token must be signed with ${acceptedAlgorithms(settings)}`);
	}
	if (credentials.guest !== null) {
		if (!settings.allowGuests) throw new ParleyError("unauthorized", "guest access is off on this server");
		if (!GUEST_NAME_PATTERN.test(credentials.guest)) {
			throw new ParleyError("unauthorized", "a guest name is 1..32 letters, digits, _ or -");
		}
		return { id: `guest:${credentials.guest}`, name: credentials.guest, admin: false, rooms: null, guest: true };
	}
	throw new ParleyError("unauthorized", "credentials required: a bearer token or, where allowed, ?guest=<name>");
}

function acceptedAlgorithms(settings: AuthSettings): string {
	const accepted = [...(settings.authSecret !== "" ? ["HS256"] : []), ...((settings.authJwksUrl ?? "") !== "" ? JWKS_ALGORITHMS : [])];
	return accepted.join(", ");
}

/** A token from the identity provider: key by kid from the JWKS, issuer and audience pinned. */
async function providerIdentity(token: string, alg: JwksAlgorithm, settings: AuthSettings, jwks: JwksCache): Promise<Identity> {
	const issuer = settings.authIssuer ?? "";
	const audience = settings.authAudience ?? "";
	// Without both pins any token the provider issues, for any application, would do.
	if (issuer === "" || audience === "")
		throw new ParleyError("unauthorized", "identity provider tokens need AUTH_ISSUER and AUTH_AUDIENCE on this server");
	// Decoded once already by the caller, so this cannot throw.
	const header = decode(token).header as { kid?: unknown; typ?: unknown };
	const kid = typeof header.kid === "string" ? header.kid : undefined;
	const key = await jwks.key(kid, alg);
	if (key === undefined)
		throw new ParleyError(
			"unauthorized",
			`no ${alg} signing key ${kid === undefined ? "(no kid)" : `with kid ${kid}`} is known from the identity provider`,
		);
	let claims: Record<string, unknown>;
	try {
		claims = (await verify(token, key, {
			alg,
			iss: issuer,
			aud: audience,
			// OAuth access tokens may be typed `at+jwt` (RFC 9068); an untyped token stays acceptable.
			...(header.typ === undefined ? {} : { typ: ["JWT", "at+jwt"] }),
		})) as Record<string, unknown>;
	} catch (error) {
		throw new ParleyError("unauthorized", tokenRefusal(error, alg));
	}
	const identity = identityFromClaims(claims, {
		nameClaims: [...new Set([settings.authNameClaim || "name", "preferred_username", "email"])],
		subAsName: true,
		admin: settings.authAdmin ?? adminByClaim(settings.authAdminClaim || "role", settings.authAdminValue || "admin"),
	});
	if (identity === undefined) throw new ParleyError("unauthorized", "the token lacks a valid sub or exp claim");
	return identity;
}

function tokenRefusal(error: unknown, alg = "HS256"): string {
	const name = error instanceof Error ? error.name : "";
	if (name === "JwtTokenExpired") return "the token has expired";
	if (name === "JwtTokenNotBefore" || name === "JwtTokenIssuedAt") return "the token is not valid yet";
	if (name === "JwtTokenSignatureMismatched") return "the token signature is invalid";
	if (name === "JwtTokenIssuer") return "the token's issuer is not accepted here";
	if (name === "JwtTokenAudience" || name === "JwtPayloadRequiresAud") return "the token's audience is not this server";
	if (name === "JwtAlgorithmMismatch" || name === "JwtHeaderInvalid") return `the token must be signed with ${alg}`;
	return "the token is malformed";
}

/** Whether the identity's `rooms` claim admits this room. */
export function canAccessRoom(identity: Identity, room: string): boolean {
	if (identity.rooms === null) return true;
	return identity.rooms.some((pattern) => (pattern.endsWith("*") ? room.startsWith(pattern.slice(0, -1)) : pattern === room));
}

/** Throws `bad_request` or `forbidden` in the contract's order: room id first, then access. */
export function authorizeRoom(identity: Identity, room: string): void {
	if (!ROOM_ID_PATTERN.test(room)) throw new ParleyError("bad_request", "room ids match ^[a-z0-9][a-z0-9._-]{0,63}$");
	if (!canAccessRoom(identity, room)) throw new ParleyError("forbidden", `your token does not grant room ${room}`);
}
