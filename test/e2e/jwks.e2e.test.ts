/**
 * Identity provider tokens through the real `wrangler dev`: a JWKS served by a Node http
 * server on 127.0.0.1, ES256 tokens signed here, over HTTP and the socket; then the JWKS
 * goes away (or hangs) and a token with a new kid gets a prompt 401, never a hang or a 500.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type DevServer, startDevServer } from "../support/dev-server.ts";
import { RecordingSocket } from "../support/ws-client.ts";

const ISSUER = "https://idp.e2e.test/";
const AUDIENCE = "parley-e2e";

interface TestKey {
	kid: string;
	privateKey: CryptoKey;
	jwk: JsonWebKey;
}

async function makeKey(kid: string): Promise<TestKey> {
	const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
	const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
	return { kid, privateKey: pair.privateKey, jwk: { ...jwk, kid, alg: "ES256", use: "sig" } as JsonWebKey & { kid: string } };
}

const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

async function es256(key: TestKey, claims: Record<string, unknown>): Promise<string> {
	const input = `${part({ alg: "ES256", typ: "JWT", kid: key.kid })}.${part(claims)}`;
	const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, new TextEncoder().encode(input));
	return `${input}.${Buffer.from(signature).toString("base64url")}`;
}

const claims = (extra: Record<string, unknown> = {}) => ({
	sub: "idp|ann",
	name: "Ann from the IdP",
	iss: ISSUER,
	aud: [AUDIENCE, "other-api"],
	exp: Math.floor(Date.now() / 1000) + 300,
	...extra,
});

async function listen(server: Server | TcpServer): Promise<number> {
	return await new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			if (address === null || typeof address === "string") reject(new Error("no port"));
			else resolve(address.port);
		});
	});
}

let key: TestKey;
let jwksFetches = 0;
let jwks: Server;
let server: DevServer;
/** Accepts connections and never answers: a JWKS URL that hangs. */
let hanging: TcpServer;
const held: Socket[] = [];
let hangingDev: DevServer;

beforeAll(async () => {
	key = await makeKey("e2e-key-1");
	jwks = createHttpServer((request, response) => {
		if (request.url !== "/jwks") {
			response.writeHead(404).end();
			return;
		}
		jwksFetches += 1;
		response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ keys: [key.jwk] }));
	});
	const jwksPort = await listen(jwks);
	hanging = createTcpServer((socket) => {
		held.push(socket);
	});
	const hangingPort = await listen(hanging);
	const vars = { AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, ALLOW_GUESTS: "false" };
	[server, hangingDev] = await Promise.all([
		startDevServer({ vars: { ...vars, AUTH_JWKS_URL: `http://127.0.0.1:${jwksPort}/jwks`, AUTH_ACCESS_HEADER: "true" } }),
		startDevServer({ vars: { ...vars, AUTH_JWKS_URL: `http://127.0.0.1:${hangingPort}/jwks` } }),
	]);
});

afterAll(async () => {
	await Promise.all([server?.stop(), hangingDev?.stop()]);
	for (const socket of held) socket.destroy();
	hanging?.close();
	jwks?.closeAllConnections();
	jwks?.close();
});

const fresh = () => `jwks-${crypto.randomUUID().slice(0, 8)}`;

function post(base: string, room: string, token: string): Promise<Response> {
	return fetch(`${base}/v1/rooms/${room}/messages`, {
		method: "POST",
		headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
		body: JSON.stringify({ id: crypto.randomUUID(), text: "hello from an OIDC user" }),
	});
}

describe("identity provider tokens over the real runtime", () => {
	it("accepts an ES256 token from the JWKS over HTTP and on the socket", async ({ expect }) => {
		const room = fresh();
		const token = await es256(key, claims());
		const response = await post(server.url, room, token);
		expect(response.status, server.output()).toBe(201);

		const socket = await RecordingSocket.open(`${server.wsUrl}/v1/rooms/${room}/ws?token=${token}`);
		const welcome = await socket.frame("welcome");
		expect(welcome.user).toMatchObject({ id: "idp|ann", name: "Ann from the IdP" });
		expect(welcome.lastSeq).toBe(1);
		socket.close();
		// The keys are cached: one fetch served both calls (two if the runtime used a second isolate).
		expect(jwksFetches).toBeGreaterThanOrEqual(1);
		expect(jwksFetches).toBeLessThanOrEqual(2);
	});

	it("reads Cloudflare Access's Cf-Access-Jwt-Assertion header as the token when enabled", async ({ expect }) => {
		const response = await fetch(`${server.url}/v1/rooms/${fresh()}/messages`, {
			method: "POST",
			headers: { "Cf-Access-Jwt-Assertion": await es256(key, claims()), "Content-Type": "application/json" },
			body: JSON.stringify({ id: crypto.randomUUID(), text: "via Access" }),
		});
		expect(response.status).toBe(201);
		// On the other server the header is off: no credentials at all.
		const off = await fetch(`${hangingDev.url}/v1/rooms/${fresh()}/events`, {
			headers: { "Cf-Access-Jwt-Assertion": await es256(key, claims()) },
		});
		expect(await off.json()).toMatchObject({ error: { message: expect.stringMatching(/^credentials required/) } });
	});

	it("refuses a token for another audience or issuer with 401", async ({ expect }) => {
		const wrongAud = await post(server.url, fresh(), await es256(key, claims({ aud: "someone-else" })));
		expect(wrongAud.status).toBe(401);
		expect(await wrongAud.json()).toMatchObject({ error: { code: "unauthorized" } });
		const wrongIss = await post(server.url, fresh(), await es256(key, claims({ iss: "https://evil.e2e.test/" })));
		expect(wrongIss.status).toBe(401);
	});

	it("refuses an HS256 token signed with the public key (no AUTH_SECRET confusion)", async ({ expect }) => {
		const { sign } = await import("hono/jwt");
		const forged = await sign(claims(), JSON.stringify(key.jwk), "HS256");
		const response = await post(server.url, fresh(), forged);
		expect(response.status).toBe(401);
	});

	it("gives a prompt 401 to a new kid once the JWKS server is gone", async ({ expect }) => {
		jwks.closeAllConnections();
		await new Promise<void>((done) => jwks.close(() => done()));
		const rotated = await makeKey("e2e-key-2");
		const started = Date.now();
		const response = await post(server.url, fresh(), await es256(rotated, claims()));
		expect(response.status).toBe(401);
		expect(Date.now() - started).toBeLessThan(4000);
		// The kid already known keeps working from the cache.
		expect((await post(server.url, fresh(), await es256(key, claims()))).status).toBe(201);
	});

	it("gives a 401 within the fetch timeout when the JWKS URL hangs", async ({ expect }) => {
		const started = Date.now();
		const response = await post(hangingDev.url, fresh(), await es256(key, claims()));
		const took = Date.now() - started;
		expect(response.status, hangingDev.output()).toBe(401);
		expect(await response.json()).toMatchObject({ error: { code: "unauthorized" } });
		expect(took).toBeLessThan(6000);
		// Within the refetch window the next token does not wait at all.
		const again = Date.now();
		expect((await post(hangingDev.url, fresh(), await es256(key, claims()))).status).toBe(401);
		expect(Date.now() - again).toBeLessThan(1500);
		expect((await fetch(`${hangingDev.url}/health`)).status).toBe(200);
	});
});
