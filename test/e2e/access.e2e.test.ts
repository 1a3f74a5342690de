/**
 * Sign-in through Cloudflare Access against a local stand-in for the team's JWKS
 * (`/cdn-cgi/access/certs` on 127.0.0.1): RS256 assertions in `Cf-Access-Jwt-Assertion`,
 * the issuer pinned to the team and the audience to the AUD tag, admins by email or group;
 * then the console in Chromium signs in by itself with the header Access would add.
 */
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import { browserMissing, launchChromium, watchPage } from "../support/browser.ts";
import { type DevServer, PROJECT_ROOT, startDevServer } from "../support/dev-server.ts";

const TEAM = "parley-e2e";
const ISSUER = `https://${TEAM}.cloudflareaccess.com`;
const AUD = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

let privateKey: CryptoKey;
let otherKey: CryptoKey;
const KID = "access-e2e-1";
let certs: Server;
let certFetches = 0;
let server: DevServer;

const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

async function assertion(claims: Record<string, unknown>, key: CryptoKey = privateKey): Promise<string> {
	const input = `${part({ alg: "RS256", kid: KID, typ: "JWT" })}.${part({ iss: ISSUER, aud: [AUD], sub: "7335d417-61da-459d-899c-0a01c76a2a94", type: "app", iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600, ...claims })}`;
	const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(input));
	return `${input}.${Buffer.from(signature).toString("base64url")}`;
}

beforeAll(async () => {
	const params = { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
	const pair = (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
	privateKey = pair.privateKey;
	otherKey = ((await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair).privateKey;
	const jwk = { ...(await crypto.subtle.exportKey("jwk", pair.publicKey)), kid: KID, alg: "RS256", use: "sig" };
	// The shape Access serves: `keys`, plus PEM certs the verifier ignores.
	certs = createServer((request, response) => {
		if (request.url !== "/cdn-cgi/access/certs") return void response.writeHead(404).end();
		certFetches++;
		response
			.writeHead(200, { "Content-Type": "application/json" })
			.end(JSON.stringify({ keys: [jwk], public_cert: { kid: KID, cert: "-----BEGIN CERTIFICATE-----…" }, public_certs: [] }));
	});
	const port = await new Promise<number>((resolve) => {
		certs.listen(0, "127.0.0.1", () => {
			const address = certs.address();
			resolve(typeof address === "object" && address !== null ? address.port : 0);
		});
	});
	if (!browserMissing) execFileSync(process.execPath, ["scripts/build-client.mjs"], { cwd: PROJECT_ROOT, stdio: "pipe" });
	server = await startDevServer({
		vars: {
			ACCESS_TEAM_DOMAIN: TEAM,
			ACCESS_AUD: AUD,
			// The team's JWKS would be https://parley-e2e.cloudflareaccess.com/cdn-cgi/access/certs.
			ACCESS_JWKS_URL: `http://127.0.0.1:${port}/cdn-cgi/access/certs`,
			ACCESS_ADMIN_EMAILS: "ops@example.com",
			ACCESS_ADMIN_GROUPS: "Parley Admins",
		},
	});
});

afterAll(async () => {
	await server?.stop();
	certs?.closeAllConnections();
	certs?.close();
});

async function withAssertion(path: string, token: string, init: RequestInit = {}): Promise<Response> {
	return await fetch(`${server.url}${path}`, { ...init, headers: { "Cf-Access-Jwt-Assertion": token, ...init.headers } });
}

describe("Cloudflare Access sign-in", () => {
	it("makes an admin of a listed email, verified against the team's certs", async () => {
		const response = await withAssertion("/v1/admin/session", await assertion({ email: "Ops@Example.com" }));
		expect(response.status, server.output()).toBe(200);
		expect(await response.json()).toMatchObject({ name: "Ops@Example.com", admin: true, via: "access", rooms: null });
		expect((await withAssertion("/v1/admin/stats", await assertion({ email: "ops@example.com" }))).status).toBe(200);
		expect(certFetches).toBeGreaterThanOrEqual(1);
		const probe = await fetch(`${server.url}/v1/console/access`);
		expect(await probe.json()).toEqual({ access: true });
	});

	it("makes an admin of a member of a listed group, and no one else", async () => {
		expect(
			(await withAssertion("/v1/admin/stats", await assertion({ email: "sre@example.com", custom: { groups: ["Parley Admins"] } })))
				.status,
		).toBe(200);
		const user = await withAssertion("/v1/admin/stats", await assertion({ email: "someone@example.com", groups: ["Everyone"] }));
		expect(user.status).toBe(403);
		// Not an admin, but signed in: the room routes work for them as for any user.
		const post = await withAssertion(
			`/v1/rooms/access-${crypto.randomUUID().slice(0, 8)}/messages`,
			await assertion({ email: "someone@example.com" }),
			{
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: JSON.stringify({ id: "a1", text: "hello via Access" }),
			},
		);
		expect(post.status).toBe(201);
	});

	it("refuses another audience, another issuer, another key and a forged HS256 assertion", async () => {
		for (const token of [
			await assertion({ email: "ops@example.com", aud: ["another-app"] }),
			await assertion({ email: "ops@example.com", iss: "https://evil.cloudflareaccess.com" }),
			await assertion({ email: "ops@example.com" }, otherKey),
			await mintToken({ sub: "ops", name: "ops@example.com", role: "admin" }),
			await assertion({ email: "ops@example.com", exp: Math.floor(Date.now() / 1000) - 60 }),
		]) {
			const response = await withAssertion("/v1/admin/stats", token);
			expect(response.status).toBe(401);
		}
		// A bearer token still wins over the header, as before.
		const bearer = await fetch(`${server.url}/v1/admin/session`, {
			headers: {
				Authorization: `Bearer ${await mintToken({ sub: "ops", name: "Ops", role: "admin" })}`,
				"Cf-Access-Jwt-Assertion": "garbage",
			},
		});
		expect(await bearer.json()).toMatchObject({ via: "token", admin: true });
	});

	it.skipIf(browserMissing)("opens the console without a pasted token behind Access", async () => {
		const browser = await launchChromium();
		try {
			// What Access does: every request to the origin carries the signed assertion.
			const context = await browser.newContext({
				extraHTTPHeaders: { "Cf-Access-Jwt-Assertion": await assertion({ email: "ops@example.com" }) },
			});
			const page = await context.newPage();
			const problems: string[] = [];
			watchPage(page, problems);
			await page.goto(`${server.url}/console/`);
			await page.locator("#app").waitFor({ timeout: 15_000 });
			await expect.poll(() => page.locator("#who").textContent()).toContain("Cloudflare Access");
			await expect
				.poll(async () => Number(await page.locator('#task-counts [data-state="pending"]').getAttribute("data-count")), {
					timeout: 10_000,
				})
				.toBeGreaterThanOrEqual(0);
			await page.locator("#list-body tr").first().waitFor({ timeout: 10_000 });
			// A non-admin behind Access is told why, and gets the paste form.
			const other = await browser.newContext({
				extraHTTPHeaders: { "Cf-Access-Jwt-Assertion": await assertion({ email: "someone@example.com" }) },
			});
			const otherPage = await other.newPage();
			await otherPage.goto(`${server.url}/console/`);
			await otherPage.locator("#signin").waitFor();
			await otherPage.locator("#signin-access").click();
			await expect.poll(() => otherPage.locator("#signin-error").textContent(), { timeout: 10_000 }).toMatch(/not an admin/);
			expect(problems).toEqual([]);
		} finally {
			await browser.close();
		}
	});
});
