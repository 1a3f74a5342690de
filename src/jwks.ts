/**
 * @module
 * Keys of an OIDC identity provider, fetched from its JWKS URL and cached per isolate.
 *
 * - Only signing keys the server knows how to hold to one algorithm are kept: RSA (RS256, at
 *   least 2048 bits), EC P-256 (ES256) and OKP Ed25519 (EdDSA). A key whose `alg`, `use` or
 *   `key_ops` says otherwise is dropped, so a token's header alg must match its key's type:
 *   an RS256 header never meets an EC key, and no JWKS key is ever used as an HMAC secret.
 * - Keys are fresh for `ttlMs` (10 min). A token with an unknown `kid`, or a stale set,
 *   triggers a refetch, but at most one per `minRefetchMs` (30 s) whatever the kid, so a flood
 *   of made-up kids costs one fetch per window. Concurrent callers share one fetch.
 * - Each fetch is bounded by `timeoutMs` (3 s), and every caller's wait is bounded by its own
 *   timer too, so an unreachable or hanging JWKS URL gives a prompt refusal, never a hang.
 * - When a refetch fails the last good keys are kept (up to `maxStaleMs` past their TTL).
 */

export type JwksAlgorithm = "RS256" | "ES256" | "EdDSA";

export const JWKS_ALGORITHMS: readonly JwksAlgorithm[] = ["RS256", "ES256", "EdDSA"];

export interface JwksCacheOptions {
	/** The fetch to use; tests inject one so no network is needed. */
	fetch?: (input: string, init?: RequestInit) => Promise<Response>;
	/** How long a fetched key set counts as fresh. */
	ttlMs?: number;
	/** The least time between two fetch attempts (unknown kids and stale sets alike). */
	minRefetchMs?: number;
	/** The bound on one fetch, and on any caller's wait for it. */
	timeoutMs?: number;
	/** How long past its TTL a key set is still used while refetches fail. */
	maxStaleMs?: number;
	/** The clock, in ms; tests move it. */
	now?: () => number;
}

interface CachedKey {
	kid: string | undefined;
	alg: JwksAlgorithm;
	key: CryptoKey;
}

/** The largest JWKS document read (real ones are a few KiB), and the most keys kept from it. */
const MAX_JWKS_BYTES = 256 * 1024;
const MAX_KEYS = 64;

const IMPORT_PARAMS: Record<JwksAlgorithm, Parameters<SubtleCrypto["importKey"]>[2]> = {
	RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
	ES256: { name: "ECDSA", namedCurve: "P-256" },
	EdDSA: { name: "Ed25519" },
};

function base64urlBytes(value: unknown): number {
	return typeof value === "string" && /^[A-Za-z0-9_-]+$/.test(value) ? Math.floor((value.length * 3) / 4) : 0;
}

/**
 * The one algorithm a JWK may verify, from its `kty` and `crv`; undefined when the key is not
 * a signing key of a supported kind, or its own `alg` names another algorithm.
 */
export function algorithmOfJwk(jwk: Record<string, unknown>): JwksAlgorithm | undefined {
	if (jwk.use !== undefined && jwk.use !== "sig") return undefined;
	if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes("verify"))) return undefined;
	let alg: JwksAlgorithm;
	if (jwk.kty === "RSA" && base64urlBytes(jwk.n) >= 256 && base64urlBytes(jwk.e) > 0) alg = "RS256";
	else if (jwk.kty === "EC" && jwk.crv === "P-256") alg = "ES256";
	else if (jwk.kty === "OKP" && jwk.crv === "Ed25519") alg = "EdDSA";
	else return undefined;
	if (jwk.alg !== undefined && jwk.alg !== alg) return undefined;
	return alg;
}

/** Only the public members, so a stray `d`, `ext` or `key_ops` cannot change what is imported. */
function publicPart(jwk: Record<string, unknown>, alg: JwksAlgorithm): JsonWebKey {
	if (alg === "RS256") return { kty: "RSA", n: jwk.n as string, e: jwk.e as string };
	if (alg === "ES256") return { kty: "EC", crv: "P-256", x: jwk.x as string, y: jwk.y as string };
	return { kty: "OKP", crv: "Ed25519", x: jwk.x as string };
}

async function importKeys(document: unknown): Promise<CachedKey[]> {
	const keys = (document as { keys?: unknown } | null)?.keys;
	if (!Array.isArray(keys)) throw new Error("the JWKS has no keys array");
	const imported: CachedKey[] = [];
	for (const jwk of keys.slice(0, MAX_KEYS)) {
		if (typeof jwk !== "object" || jwk === null) continue;
		const record = jwk as Record<string, unknown>;
		const alg = algorithmOfJwk(record);
		if (alg === undefined) continue;
		try {
			const key = await crypto.subtle.importKey("jwk", publicPart(record, alg), IMPORT_PARAMS[alg], false, ["verify"]);
			imported.push({ kid: typeof record.kid === "string" ? record.kid : undefined, alg, key });
		} catch {
			// A malformed key is skipped; the others still serve.
		}
	}
	return imported;
}

/** Rejects after `ms`; the timer is cleared once the promise settles. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
	});
	try {
		return await Promise.race([promise, timeout]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}

export class JwksCache {
	readonly url: string;
	/** Fetch attempts so far, for tests and logs. */
	fetches = 0;
	readonly #fetch: (input: string, init?: RequestInit) => Promise<Response>;
	readonly #ttlMs: number;
	readonly #minRefetchMs: number;
	readonly #timeoutMs: number;
	readonly #maxStaleMs: number;
	readonly #now: () => number;
	#keys: CachedKey[] = [];
	#fetchedAt = Number.NEGATIVE_INFINITY;
	#attemptedAt = Number.NEGATIVE_INFINITY;
	#inflight: Promise<void> | undefined;

	constructor(url: string, options: JwksCacheOptions = {}) {
		this.url = url;
		this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
		this.#ttlMs = options.ttlMs ?? 10 * 60_000;
		this.#minRefetchMs = options.minRefetchMs ?? 30_000;
		this.#timeoutMs = options.timeoutMs ?? 3000;
		this.#maxStaleMs = options.maxStaleMs ?? 60 * 60_000;
		this.#now = options.now ?? Date.now;
	}

	/**
	 * The key for a token's `kid` and header `alg`, refetching the set when the kid is unknown
	 * or the set is stale (within the refetch bound); undefined when there is none. A token
	 * without a kid is matched only when exactly one key of its algorithm is known.
	 */
	async key(kid: string | undefined, alg: JwksAlgorithm): Promise<CryptoKey | undefined> {
		const now = this.#now();
		const age = now - this.#fetchedAt;
		let found = age <= this.#ttlMs + this.#maxStaleMs ? this.#find(kid, alg) : undefined;
		if (found !== undefined && age <= this.#ttlMs) return found;
		if (this.#inflight !== undefined || now - this.#attemptedAt >= this.#minRefetchMs) {
			try {
				await within(this.#refresh(), this.#timeoutMs, "waiting for the JWKS");
			} catch (error) {
				console.warn(JSON.stringify({ level: "warn", msg: "jwks fetch failed", url: this.url, error: String(error) }));
			}
			if (this.#now() - this.#fetchedAt <= this.#ttlMs + this.#maxStaleMs) found = this.#find(kid, alg);
		}
		return found;
	}

	#find(kid: string | undefined, alg: JwksAlgorithm): CryptoKey | undefined {
		if (kid === undefined) {
			const candidates = this.#keys.filter((entry) => entry.alg === alg);
			return candidates.length === 1 ? candidates[0]?.key : undefined;
		}
		// The header alg must be the key's own algorithm: no confusion between key types.
		return this.#keys.find((entry) => entry.kid === kid && entry.alg === alg)?.key;
	}

	#refresh(): Promise<void> {
		if (this.#inflight === undefined) {
			this.#attemptedAt = this.#now();
			this.fetches += 1;
			this.#inflight = this.#load().finally(() => {
				this.#inflight = undefined;
			});
		}
		return this.#inflight;
	}

	async #load(): Promise<void> {
		const controller = new AbortController();
		const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
		try {
			const fetching = (async () => {
				const response = await this.#fetch(this.url, { signal: controller.signal, headers: { Accept: "application/json" } });
				if (!response.ok) throw new Error(`the JWKS URL answered ${response.status}`);
				const text = await response.text();
				if (text.length > MAX_JWKS_BYTES) throw new Error("the JWKS is too large");
				return JSON.parse(text) as unknown;
			})();
			const document = await within(fetching, this.#timeoutMs, "fetching the JWKS");
			const keys = await importKeys(document);
			this.#keys = keys;
			this.#fetchedAt = this.#now();
		} finally {
			clearTimeout(timer);
		}
	}
}

const caches = new Map<string, JwksCache>();

/** The isolate's cache for a JWKS URL. */
export function jwksCacheFor(url: string): JwksCache {
	let cache = caches.get(url);
	if (cache === undefined) {
		cache = new JwksCache(url);
		caches.set(url, cache);
	}
	return cache;
}
