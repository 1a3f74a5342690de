/**
 * @module
 * Tokens for the suite: honest ones from scripts/mint-token.ts, and every kind of bad one
 * the access scenario throws at the server. All signed with TEST_AUTH_SECRET, the secret
 * chaos/lib/server.ts gives the runtime.
 */
import { sign } from "hono/jwt";
import { mintToken, type TokenClaims } from "../../scripts/mint-token.ts";
import { TEST_AUTH_SECRET } from "../../scripts/test-secret.ts";

export { mintToken };

export async function userToken(sub: string, extra: Partial<TokenClaims> = {}): Promise<string> {
	return await mintToken({ sub, name: sub, ...extra });
}

export async function adminToken(): Promise<string> {
	return await mintToken({ sub: "chaos-ops", name: "Chaos Ops", role: "admin" });
}

const base64url = (value: string): string => Buffer.from(value).toString("base64url");

/** A credential the server must refuse with 401, and why. */
export interface BadCredential {
	label: string;
	/** The value after `Bearer ` (HTTP) or in `?token=` (socket). */
	token: string;
}

/** Every malformed or untrustworthy token the contract says is refused with 401. */
export async function badTokens(): Promise<BadCredential[]> {
	const now = Math.floor(Date.now() / 1000);
	const claims = { sub: "mallory", name: "Mallory", exp: now + 3600, role: "admin" };
	const withoutExp = { sub: "mallory", name: "Mallory", role: "admin" };
	const noneHeader = base64url(JSON.stringify({ alg: "none", typ: "JWT" }));
	const payload = base64url(JSON.stringify(claims));
	const valid = await sign(claims, TEST_AUTH_SECRET, "HS256");
	const [header, body] = valid.split(".");
	return [
		{ label: "forged (wrong secret)", token: await mintToken({ sub: "mallory", name: "Mallory", role: "admin" }, "not-the-secret") },
		{ label: "expired", token: await mintToken({ sub: "mallory", name: "Mallory", role: "admin", ttlSeconds: -120 }) },
		{ label: "alg none", token: `${noneHeader}.${payload}.` },
		{ label: "alg none, stolen signature", token: `${noneHeader}.${payload}.${valid.split(".")[2] ?? ""}` },
		{ label: "HS512", token: await sign(claims, TEST_AUTH_SECRET, "HS512") },
		{
			label: "tampered payload",
			token: `${header ?? ""}.${base64url(JSON.stringify({ ...claims, sub: "root" }))}.${valid.split(".")[2] ?? ""}`,
		},
		{ label: "missing sub", token: await sign({ name: "Mallory", exp: now + 3600, role: "admin" }, TEST_AUTH_SECRET, "HS256") },
		{ label: "missing name", token: await sign({ sub: "mallory", exp: now + 3600, role: "admin" }, TEST_AUTH_SECRET, "HS256") },
		{ label: "missing exp", token: await sign(withoutExp, TEST_AUTH_SECRET, "HS256") },
		{ label: "guest: sub", token: await sign({ ...claims, sub: "guest:mallory" }, TEST_AUTH_SECRET, "HS256") },
		{ label: "garbage", token: "not-a-jwt" },
		{ label: "two parts", token: `${header ?? ""}.${body ?? ""}` },
	];
}
