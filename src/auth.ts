/**
 * @module
 * Who is calling, and may they use this room. Tokens are HS256 JWTs checked with Hono's
 * Web Crypto implementation (the algorithm is pinned, so `alg: none` and every other
 * algorithm are refused); the claims are then held to the contract.
 */
import { verify } from "hono/jwt";
import { ParleyError } from "./errors.ts";
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
}

/**
 * At most this many entries in a `rooms` claim: the identity rides in each socket's attachment
 * (16 KiB), so a longer claim is refused with 401 before any upgrade rather than failing after.
 */
export const MAX_ROOM_CLAIMS = 128;

/** Controls that can forge or reorder what a reader sees: C0, DEL, C1, bidi marks and overrides, line separators. */
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
export function identityFromClaims(claims: Record<string, unknown>): Identity | undefined {
	const id = claimText(claims.sub, 64);
	const rawName = claimText(claims.name, 64);
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
	return { id, name, admin: claims.role === "admin", rooms, guest: false, exp: claims.exp };
}

/**
 * Resolves credentials to an identity or throws `unauthorized`. A token wins over a guest
 * name when both are given.
 */
export async function authenticate(credentials: Credentials, settings: AuthSettings): Promise<Identity> {
	if (credentials.token !== null && credentials.token !== "") {
		if (settings.authSecret === "") throw new ParleyError("unauthorized", "token auth is not configured on this server");
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
	if (credentials.guest !== null) {
		if (!settings.allowGuests) throw new ParleyError("unauthorized", "guest access is off on this server");
		if (!GUEST_NAME_PATTERN.test(credentials.guest)) {
			throw new ParleyError("unauthorized", "a guest name is 1..32 letters, digits, _ or -");
		}
		return { id: `guest:${credentials.guest}`, name: credentials.guest, admin: false, rooms: null, guest: true };
	}
	throw new ParleyError("unauthorized", "credentials required: a bearer token or, where allowed, ?guest=<name>");
}

function tokenRefusal(error: unknown): string {
	const name = error instanceof Error ? error.name : "";
	if (name === "JwtTokenExpired") return "the token has expired";
	if (name === "JwtTokenSignatureMismatched") return "the token signature is invalid";
	if (name === "JwtAlgorithmMismatch" || name === "JwtHeaderInvalid") return "the token must be signed with HS256";
	return "the token is malformed";
}

/** Whether the identity's `rooms` claim admits this room. */
export function canAccessRoom(identity: Identity, room: string): boolean {
	if (identity.rooms === null) return true;
	return identity.rooms.some((pattern) =>
		pattern.endsWith("*") ? room.startsWith(pattern.slice(0, -1)) : pattern === room,
	);
}

/** Throws `bad_request` or `forbidden` in the contract's order: room id first, then access. */
export function authorizeRoom(identity: Identity, room: string): void {
	if (!ROOM_ID_PATTERN.test(room)) throw new ParleyError("bad_request", "room ids match ^[a-z0-9][a-z0-9._-]{0,63}$");
	if (!canAccessRoom(identity, room)) throw new ParleyError("forbidden", `your token does not grant room ${room}`);
}
