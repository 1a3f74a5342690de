/**
 * Identity provider tokens (RS256, ES256, EdDSA) checked against a JWKS, inside workerd. Keys
 * are made here with Web Crypto and the JWKS is served by an injected fetch, so no network.
 */
import { sign } from "hono/jwt";
import { describe, it } from "vitest";
import { type AuthSettings, authenticate, type Identity } from "../../src/auth.ts";
import { ParleyError } from "../../src/errors.ts";
import { algorithmOfJwk, JwksCache, type JwksCacheOptions } from "../../src/jwks.ts";

const ISSUER = "https://idp.example.test/";
const AUDIENCE = "parley-api";
const JWKS_URL = "https://idp.example.test/.well-known/jwks.json";
const now = () => Math.floor(Date.now() / 1000);

const SIGN_PARAMS = {
	ES256: { name: "ECDSA", hash: "SHA-256" },
	RS256: { name: "RSASSA-PKCS1-v1_5" },
	EdDSA: { name: "Ed25519" },
} as const;

type Alg = keyof typeof SIGN_PARAMS;

interface TestKey {
	kid: string;
	alg: Alg;
	privateKey: CryptoKey;
	publicKey: CryptoKey;
	jwk: JsonWebKey & { kid: string };
}

async function makeKey(alg: Alg, kid: string): Promise<TestKey> {
	const params =
		alg === "ES256"
			? { name: "ECDSA", namedCurve: "P-256" }
			: alg === "RS256"
				? { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
				: { name: "Ed25519" };
	const pair = (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
	const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
	return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk: { ...jwk, kid, use: "sig", alg } };
}

function b64url(bytes: Uint8Array): string {
	let text = "";
	for (const byte of bytes) text += String.fromCharCode(byte);
	return btoa(text).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

const part = (value: object) => b64url(new TextEncoder().encode(JSON.stringify(value)));

/** A JWT with exactly this header, signed by this key with its own algorithm. */
async function token(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
	const input = `${part({ alg: key.alg, typ: "JWT", kid: key.kid, ...header })}.${part(claims)}`;
	const signature = await crypto.subtle.sign(SIGN_PARAMS[key.alg], key.privateKey, new TextEncoder().encode(input));
	return `${input}.${b64url(new Uint8Array(signature))}`;
}

const claims = (extra: Record<string, unknown> = {}) => ({ sub: "u1", name: "Ann", iss: ISSUER, aud: AUDIENCE, exp: now() + 60, ...extra });

/** A JWKS endpoint in memory: the keys it serves can change, and it counts its fetches. */
function jwksServer(keys: TestKey[]) {
	const server = {
		keys: keys.map((key) => key.jwk) as object[],
		fetches: 0,
		fetch: async (input: string): Promise<Response> => {
			server.fetches += 1;
			if (input !== JWKS_URL) return new Response("not found", { status: 404 });
			return Response.json({ keys: server.keys });
		},
	};
	return server;
}

function settings(extra: Partial<AuthSettings> = {}): AuthSettings {
	return { authSecret: "", allowGuests: false, authJwksUrl: JWKS_URL, authIssuer: ISSUER, authAudience: AUDIENCE, ...extra };
}

async function refusal(promise: Promise<Identity>): Promise<string> {
	try {
		await promise;
	} catch (error) {
		if (error instanceof ParleyError) return `${error.code}: ${error.message}`;
		throw error;
	}
	return "accepted";
}

const ed25519 = await makeKey("EdDSA", "ed-1").then(
	(key) => key,
	() => undefined,
);
const es = await makeKey("ES256", "es-1");
const rs = await makeKey("RS256", "rs-1");

function clock(start = 1_000_000) {
	const time = { now: start };
	return { time, now: () => time.now };
}

function cacheWith(fetcher: JwksCacheOptions["fetch"], options: JwksCacheOptions = {}): JwksCache {
	return new JwksCache(JWKS_URL, { fetch: fetcher, timeoutMs: 300, ...options });
}

describe("identity provider tokens", () => {
	it("accepts ES256 and RS256 tokens whose kid is in the JWKS", async ({ expect }) => {
		const server = jwksServer([es, rs]);
		const jwks = cacheWith(server.fetch);
		const exp = now() + 60;
		const identity = await authenticate({ token: await token(es, claims({ exp, rooms: ["team-*"] })), guest: null }, settings(), {
			jwks,
		});
		expect(identity).toEqual({ id: "u1", name: "Ann", admin: false, rooms: ["team-*"], guest: false, exp });
		expect((await authenticate({ token: await token(rs, claims()), guest: null }, settings(), { jwks })).id).toBe("u1");
		// Both from one fetch: the set is cached.
		expect(server.fetches).toBe(1);
	});

	it("accepts EdDSA (Ed25519) tokens", async ({ expect, skip }) => {
		if (ed25519 === undefined) skip("this workerd has no Ed25519");
		const key = ed25519 as TestKey;
		const jwks = cacheWith(jwksServer([key]).fetch);
		expect((await authenticate({ token: await token(key, claims()), guest: null }, settings(), { jwks })).id).toBe("u1");
	});

	it("accepts an aud array that contains the audience and an at+jwt typ", async ({ expect }) => {
		const jwks = cacheWith(jwksServer([es]).fetch);
		const t = await token(es, claims({ aud: ["other", AUDIENCE] }), { typ: "at+jwt" });
		expect((await authenticate({ token: t, guest: null }, settings(), { jwks })).id).toBe("u1");
	});

	it("follows a key rotation to a new kid by refetching", async ({ expect }) => {
		const server = jwksServer([es]);
		const { time, now: clockNow } = clock();
		const jwks = cacheWith(server.fetch, { now: clockNow });
		expect(await refusal(authenticate({ token: await token(es, claims()), guest: null }, settings(), { jwks }))).toBe("accepted");
		const next = await makeKey("ES256", "es-2");
		server.keys = [next.jwk];
		time.now += 31_000;
		expect(await refusal(authenticate({ token: await token(next, claims()), guest: null }, settings(), { jwks }))).toBe("accepted");
		expect(server.fetches).toBe(2);
		// The retired key is gone once the new set is in.
		expect(await refusal(authenticate({ token: await token(es, claims()), guest: null }, settings(), { jwks }))).toMatch(
			/^unauthorized: no ES256 signing key with kid es-1/,
		);
	});

	it("refetches a stale set after the TTL, and keeps the old keys when that refetch fails", async ({ expect }) => {
		const server = jwksServer([es]);
		const { time, now: clockNow } = clock();
		let down = false;
		const jwks = cacheWith(async (input) => (down ? Promise.reject(new TypeError("connection refused")) : server.fetch(input)), {
			now: clockNow,
			ttlMs: 60_000,
		});
		const t = await token(es, claims());
		expect(await refusal(authenticate({ token: t, guest: null }, settings(), { jwks }))).toBe("accepted");
		time.now += 61_000;
		expect(await refusal(authenticate({ token: t, guest: null }, settings(), { jwks }))).toBe("accepted");
		expect(server.fetches).toBe(2);
		down = true;
		time.now += 61_000;
		expect(await refusal(authenticate({ token: t, guest: null }, settings(), { jwks }))).toBe("accepted");
		expect(jwks.fetches).toBe(3);
	});

	it("refuses unknown kids and refetches at most once per window for them", async ({ expect }) => {
		const server = jwksServer([es]);
		const { time, now: clockNow } = clock();
		const jwks = cacheWith(server.fetch, { now: clockNow });
		expect(await refusal(authenticate({ token: await token(es, claims()), guest: null }, settings(), { jwks }))).toBe("accepted");
		for (let i = 0; i < 20; i += 1) {
			const forged = await token(es, claims(), { kid: `made-up-${i}` });
			expect(await refusal(authenticate({ token: forged, guest: null }, settings(), { jwks }))).toMatch(
				/^unauthorized: no ES256 signing key/,
			);
			time.now += 1000;
		}
		// The first fetch was at t=0 and 20 s have passed: no refetch yet.
		expect(server.fetches).toBe(1);
		time.now += 11_000;
		for (let i = 0; i < 5; i += 1) {
			const forged = await token(es, claims(), { kid: `again-${i}` });
			expect(await refusal(authenticate({ token: forged, guest: null }, settings(), { jwks }))).toMatch(/^unauthorized/);
		}
		expect(server.fetches).toBe(2);
	});

	it("shares one fetch among concurrent first callers", async ({ expect }) => {
		const server = jwksServer([es]);
		const jwks = cacheWith(server.fetch);
		const t = await token(es, claims());
		const results = await Promise.all(
			Array.from({ length: 10 }, () => refusal(authenticate({ token: t, guest: null }, settings(), { jwks }))),
		);
		expect(results).toEqual(Array(10).fill("accepted"));
		expect(server.fetches).toBe(1);
	});

	it.for<[string, () => Promise<string>, RegExp]>([
		["a wrong issuer", async () => await token(es, claims({ iss: "https://evil.example.test/" })), /issuer/],
		["no issuer", async () => await token(es, claims({ iss: undefined })), /issuer/],
		["a wrong audience", async () => await token(es, claims({ aud: "someone-else" })), /audience/],
		["an aud array without the audience", async () => await token(es, claims({ aud: ["a", "b"] })), /audience/],
		["no audience", async () => await token(es, claims({ aud: undefined })), /audience/],
		["an expired token", async () => await token(es, claims({ exp: now() - 1 })), /expired/],
		["a token not valid yet", async () => await token(es, claims({ nbf: now() + 600 })), /not valid yet/],
		["no exp", async () => await token(es, claims({ exp: undefined })), /sub or exp/],
		["no sub", async () => await token(es, claims({ sub: undefined })), /sub or exp/],
		[
			"a tampered payload",
			async () => {
				const [header, , signature] = (await token(es, claims())).split(".");
				return `${header}.${part(claims({ sub: "admin" }))}.${signature}`;
			},
			/signature/,
		],
		[
			"a signature by another key with the same kid",
			async () => await token({ ...(await makeKey("ES256", "es-1")) }, claims()),
			/signature/,
		],
		["alg none", async () => `${part({ alg: "none", typ: "JWT", kid: "es-1" })}.${part(claims())}.`, /must be signed with/],
		[
			"alg none with a signature",
			async () => `${part({ alg: "none", kid: "es-1" })}.${part(claims())}.${b64url(new Uint8Array(64))}`,
			/must be signed with/,
		],
		[
			"ES384",
			async () => `${part({ alg: "ES384", kid: "es-1" })}.${part(claims())}.${b64url(new Uint8Array(96))}`,
			/must be signed with/,
		],
		[
			"PS256",
			async () => `${part({ alg: "PS256", kid: "rs-1" })}.${part(claims())}.${b64url(new Uint8Array(256))}`,
			/must be signed with/,
		],
		["a crit header", async () => await token(es, claims(), { crit: ["exp"] }), /must be signed with ES256/],
		["an unexpected typ", async () => await token(es, claims(), { typ: "dpop+jwt" }), /must be signed with ES256/],
	])("refuses %s", async ([, make, message], { expect }) => {
		const jwks = cacheWith(jwksServer([es, rs]).fetch);
		const result = await refusal(authenticate({ token: await make(), guest: null }, settings(), { jwks }));
		expect(result).toMatch(/^unauthorized: /);
		expect(result).toMatch(message);
	});

	it("refuses provider tokens when the issuer or audience is not configured", async ({ expect }) => {
		const server = jwksServer([es]);
		const jwks = cacheWith(server.fetch);
		const t = await token(es, claims());
		expect(await refusal(authenticate({ token: t, guest: null }, settings({ authIssuer: "" }), { jwks }))).toMatch(/AUTH_ISSUER/);
		expect(await refusal(authenticate({ token: t, guest: null }, settings({ authAudience: "" }), { jwks }))).toMatch(/AUTH_AUDIENCE/);
		expect(
			await refusal(authenticate({ token: t, guest: null }, settings({ authJwksUrl: "", authSecret: "unit-secret" }), { jwks })),
		).toMatch(/ES256 tokens are not accepted/);
		expect(await refusal(authenticate({ token: t, guest: null }, settings({ authJwksUrl: "" }), { jwks }))).toMatch(
			/token auth is not configured/,
		);
		expect(server.fetches).toBe(0);
	});
});

describe("algorithm confusion", () => {
	async function spkiPem(key: TestKey): Promise<string> {
		const der = new Uint8Array((await crypto.subtle.exportKey("spki", key.publicKey)) as ArrayBuffer);
		const body = btoa(String.fromCharCode(...der)).replace(/.{64}/g, "$&\n");
		return `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`;
	}

	it("refuses an HS256 token signed with the provider's public key, with or without AUTH_SECRET", async ({ expect }) => {
		const server = jwksServer([rs, es]);
		const jwks = cacheWith(server.fetch);
		for (const key of [rs, es]) {
			for (const secret of [await spkiPem(key), JSON.stringify(key.jwk), key.jwk.n ?? key.jwk.x ?? ""]) {
				const forged = await sign({ ...claims(), role: "admin" }, secret, "HS256");
				expect(await refusal(authenticate({ token: forged, guest: null }, settings(), { jwks }))).toBe(
					"unauthorized: HS256 tokens are not accepted on this server",
				);
				expect(
					await refusal(authenticate({ token: forged, guest: null }, settings({ authSecret: "the-real-secret" }), { jwks })),
				).toBe("unauthorized: the token signature is invalid");
			}
		}
		// The HS256 path never consults the JWKS.
		expect(server.fetches).toBe(0);
	});

	it("refuses a header alg that does not match the key's type", async ({ expect }) => {
		const jwks = cacheWith(jwksServer([rs, es]).fetch);
		// An ES256 signature presented as RS256 under the EC key's kid, and the other way round.
		const asRs = await token({ ...es, alg: "ES256" }, claims(), { alg: "RS256" });
		expect(await refusal(authenticate({ token: asRs, guest: null }, settings(), { jwks }))).toMatch(
			/no RS256 signing key with kid es-1/,
		);
		const asEs = await token(rs, claims(), { alg: "ES256" });
		expect(await refusal(authenticate({ token: asEs, guest: null }, settings(), { jwks }))).toMatch(
			/no ES256 signing key with kid rs-1/,
		);
	});

	it("keeps only keys whose own alg, use and key_ops fit", ({ expect }) => {
		expect(algorithmOfJwk({ ...rs.jwk })).toBe("RS256");
		expect(algorithmOfJwk({ ...rs.jwk, alg: undefined })).toBe("RS256");
		expect(algorithmOfJwk({ ...rs.jwk, alg: "PS256" })).toBeUndefined();
		expect(algorithmOfJwk({ ...rs.jwk, alg: "HS256" })).toBeUndefined();
		expect(algorithmOfJwk({ ...rs.jwk, use: "enc" })).toBeUndefined();
		expect(algorithmOfJwk({ ...rs.jwk, key_ops: ["encrypt"] })).toBeUndefined();
		expect(algorithmOfJwk({ ...rs.jwk, n: "AQAB" })).toBeUndefined();
		expect(algorithmOfJwk({ ...es.jwk })).toBe("ES256");
		expect(algorithmOfJwk({ ...es.jwk, crv: "P-384" })).toBeUndefined();
		expect(algorithmOfJwk({ kty: "oct", k: "c2VjcmV0", kid: "hmac" })).toBeUndefined();
		expect(algorithmOfJwk({ kty: "OKP", crv: "Ed25519", x: "AAAA" })).toBe("EdDSA");
		expect(algorithmOfJwk({ kty: "OKP", crv: "X25519", x: "AAAA" })).toBeUndefined();
	});

	it("ignores a symmetric key published in the JWKS", async ({ expect }) => {
		const jwks = cacheWith(async () =>
			Response.json({ keys: [{ kty: "oct", k: b64url(new TextEncoder().encode("s3cret")), kid: "hmac", alg: "HS256" }] }),
		);
		const forged = await sign(claims(), "s3cret", "HS256");
		expect(await refusal(authenticate({ token: forged, guest: null }, settings(), { jwks }))).toMatch(/HS256 tokens are not accepted/);
	});
});

describe("an unavailable JWKS", () => {
	it.for<[string, JwksCacheOptions["fetch"]]>([
		["unreachable", async () => await Promise.reject(new TypeError("connect ECONNREFUSED"))],
		["hanging, ignoring the abort", async () => await new Promise<Response>(() => {})],
		["answering 500", async () => new Response("oops", { status: 500 })],
		["answering HTML", async () => new Response("<html>", { status: 200 })],
		[
			"answering a body that never ends",
			async () => new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"keys":[')) })),
		],
	])("gives a prompt unauthorized when it is %s", async ([, fetcher], { expect }) => {
		const jwks = cacheWith(fetcher, { timeoutMs: 300 });
		const started = Date.now();
		expect(await refusal(authenticate({ token: await token(es, claims()), guest: null }, settings(), { jwks }))).toMatch(
			/^unauthorized: no ES256 signing key/,
		);
		expect(Date.now() - started).toBeLessThan(1500);
		// Within the refetch window a second token does not wait again.
		const again = Date.now();
		expect(await refusal(authenticate({ token: await token(es, claims()), guest: null }, settings(), { jwks }))).toMatch(
			/^unauthorized/,
		);
		expect(Date.now() - again).toBeLessThan(100);
		expect(jwks.fetches).toBe(1);
	});

	it("bounds a hanging fetch by the default 3 s timeout", async ({ expect }) => {
		let aborted = false;
		const jwks = new JwksCache(JWKS_URL, {
			fetch: async (_input, init) =>
				await new Promise<Response>((_, reject) => {
					init?.signal?.addEventListener("abort", () => {
						aborted = true;
						reject(new Error("aborted"));
					});
				}),
		});
		const started = Date.now();
		expect(await refusal(authenticate({ token: await token(es, claims()), guest: null }, settings(), { jwks }))).toMatch(
			/^unauthorized/,
		);
		const took = Date.now() - started;
		expect(took).toBeGreaterThanOrEqual(2900);
		expect(took).toBeLessThan(4000);
		expect(aborted).toBe(true);
	});
});

describe("HS256 beside the identity provider", () => {
	it("still accepts HS256 tokens signed with AUTH_SECRET, without touching the JWKS", async ({ expect }) => {
		const server = jwksServer([es]);
		const jwks = cacheWith(server.fetch);
		const both = settings({ authSecret: "unit-secret" });
		const exp = now() + 60;
		const hs = await sign({ sub: "u2", name: "Bo", exp, role: "admin" }, "unit-secret", "HS256");
		expect(await authenticate({ token: hs, guest: null }, both, { jwks })).toEqual({
			id: "u2",
			name: "Bo",
			admin: true,
			rooms: null,
			guest: false,
			exp,
		});
		expect(server.fetches).toBe(0);
		expect((await authenticate({ token: await token(es, claims()), guest: null }, both, { jwks })).id).toBe("u1");
	});

	it("keeps HS256 claims as they were: the name claim required, role exactly admin", async ({ expect }) => {
		const both = settings({
			authSecret: "unit-secret",
			authNameClaim: "nickname",
			authAdminClaim: "roles",
			authAdminValue: "parley-admin",
		});
		const jwks = cacheWith(jwksServer([es]).fetch);
		const noName = await sign({ sub: "u2", preferred_username: "bo", exp: now() + 60 }, "unit-secret", "HS256");
		expect(await refusal(authenticate({ token: noName, guest: null }, both, { jwks }))).toMatch(/lacks a valid sub, name or exp/);
		const roles = await sign(
			{ sub: "u2", name: "Bo", exp: now() + 60, roles: ["parley-admin"], role: ["admin"] },
			"unit-secret",
			"HS256",
		);
		expect((await authenticate({ token: roles, guest: null }, both, { jwks })).admin).toBe(false);
	});
});

describe("claim mapping for provider tokens", () => {
	const jwks = () => cacheWith(jwksServer([es]).fetch);

	it.for<[string, Record<string, unknown>, Partial<AuthSettings>, string]>([
		["name", { name: "Ann" }, {}, "Ann"],
		["preferred_username without a name", { name: undefined, preferred_username: "ann.l" }, {}, "ann.l"],
		["email without either", { name: undefined, email: "ann@example.test" }, {}, "ann@example.test"],
		["the sub without any", { name: undefined }, {}, "u1"],
		["the sub when the name is not text", { name: 42 }, {}, "u1"],
		["a configured claim first", { name: "Ann", nickname: "Annie" }, { authNameClaim: "nickname" }, "Annie"],
		["the fallbacks after a configured claim", { name: "Ann", email: "a@x.test" }, { authNameClaim: "nickname" }, "a@x.test"],
		["a cleaned name", { name: "evil\u202eTXT" }, {}, "evil TXT"],
	])("shows %s", async ([, extra, mapping, shown], { expect }) => {
		const identity = await authenticate({ token: await token(es, claims(extra)), guest: null }, settings(mapping), { jwks: jwks() });
		expect(identity.name).toBe(shown);
	});

	it.for<[string, Record<string, unknown>, Partial<AuthSettings>, boolean]>([
		["role admin by default", { role: "admin" }, {}, true],
		["no role by default", {}, {}, false],
		["another role by default", { role: "member" }, {}, false],
		["a roles array member", { roles: ["user", "parley-admin"] }, { authAdminClaim: "roles", authAdminValue: "parley-admin" }, true],
		["a roles array without it", { roles: ["user"] }, { authAdminClaim: "roles", authAdminValue: "parley-admin" }, false],
		["a namespaced claim", { "https://parley.example/roles": ["admin"] }, { authAdminClaim: "https://parley.example/roles" }, true],
		["a boolean claim", { parley_admin: true }, { authAdminClaim: "parley_admin", authAdminValue: "true" }, true],
		[
			"role admin when another claim is configured",
			{ role: "admin" },
			{ authAdminClaim: "roles", authAdminValue: "parley-admin" },
			false,
		],
	])("makes an admin from %s", async ([, extra, mapping, admin], { expect }) => {
		const identity = await authenticate({ token: await token(es, claims(extra)), guest: null }, settings(mapping), { jwks: jwks() });
		expect(identity.admin).toBe(admin);
	});
});
