/**
 * Two users chat through the real `wrangler dev`, one drops and resumes by seq, and the
 * runtime is killed and restarted on the same state: nothing acked is lost or doubled.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";
import { RecordingSocket } from "../support/ws-client.ts";

let server: DevServer;

beforeAll(async () => {
	server = await startDevServer();
});
afterAll(async () => {
	await server?.stop();
});

const fresh = () => `e2e-${crypto.randomUUID().slice(0, 8)}`;

describe("chat over real sockets", () => {
	it("lets two users chat, and a dropped user resume by seq without loss or doubles", async ({ expect }) => {
		const room = fresh();
		const annToken = await mintToken({ sub: "ann", name: "Ann" });
		const ann = await RecordingSocket.open(`${server.wsUrl}/v1/rooms/${room}/ws?token=${annToken}`);
		const bob = await RecordingSocket.open(`${server.wsUrl}/v1/rooms/${room}/ws?guest=bob`);
		await bob.frame("synced");
		await ann.frame("presence", (p) => "joined" in p && p.joined.id === "guest:bob");

		ann.send({ type: "send", id: "a1", text: "hi bob" });
		bob.send({ type: "send", id: "b1", text: "hi ann" });
		await ann.until(() => ann.ofType("message").length === 2);
		await bob.until(() => bob.ofType("message").length === 2);
		expect(ann.ofType("message").map((m) => m.text)).toEqual(bob.ofType("message").map((m) => m.text));

		// Bob drops; Ann keeps talking; Bob resumes from the last seq he saw.
		const bobLast = Math.max(...bob.ofType("message").map((m) => m.seq));
		bob.close();
		await ann.frame("presence", (p) => "left" in p && p.left.id === "guest:bob");
		for (let i = 0; i < 5; i++) ann.send({ type: "send", id: `a-off-${i}`, text: `while away ${i}` });
		await ann.until(() => ann.ofType("ack").length === 6);

		const bob2 = await RecordingSocket.open(`${server.wsUrl}/v1/rooms/${room}/ws?guest=bob&since=${bobLast}`);
		await bob2.frame("synced");
		expect(bob2.ofType("message").map((m) => m.text)).toEqual([0, 1, 2, 3, 4].map((i) => `while away ${i}`));
		const seen = [...bob.ofType("message"), ...bob2.ofType("message")].map((m) => m.seq);
		expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
		ann.close();
		bob2.close();
	});

	it("pages history over HTTP with the same credentials", async ({ expect }) => {
		const room = fresh();
		const auth = { Authorization: `Bearer ${await mintToken({ sub: "ann", name: "Ann" })}`, "Content-Type": "application/json" };
		for (let i = 0; i < 3; i++) {
			const response = await fetch(`${server.url}/v1/rooms/${room}/messages`, {
				method: "POST",
				headers: auth,
				body: JSON.stringify({ id: `h${i}`, text: `m${i}` }),
			});
			expect(response.status).toBe(201);
		}
		const page = await fetch(`${server.url}/v1/rooms/${room}/events?before=3&limit=5`, { headers: auth });
		expect(await page.json()).toMatchObject({ room, lastSeq: 3, events: [{ seq: 1 }, { seq: 2 }] });
		const guest = await fetch(`${server.url}/v1/rooms/${room}/events?guest=zed`);
		expect(guest.status).toBe(200);
		const refused = await fetch(`${server.url}/v1/rooms/${room}/events`);
		expect(refused.status).toBe(401);
	});

	it("serves the chat page at /", async ({ expect }) => {
		const response = await fetch(`${server.url}/`);
		expect(response.status).toBe(200);
		expect(response.headers.get("content-type")).toContain("text/html");
	});
});

describe("a killed runtime", () => {
	it("keeps every acked message exactly once at its seq after a restart", async ({ expect }) => {
		const own = await startDevServer();
		const room = fresh();
		let restarted: DevServer | undefined;
		try {
			const socket = await RecordingSocket.open(`${own.wsUrl}/v1/rooms/${room}/ws?guest=ann`);
			await socket.frame("synced");
			for (let i = 0; i < 40; i++) socket.send({ type: "send", id: `k${i}`, text: `kill ${i}` });
			await socket.until(() => socket.ofType("ack").length >= 10);
			await own.kill();
			const acked = new Map(socket.ofType("ack").map((ack) => [ack.id, ack.seq]));

			restarted = await startDevServer({ persistTo: own.persistTo });
			const again = await RecordingSocket.open(`${restarted.wsUrl}/v1/rooms/${room}/ws?guest=ann&since=0`);
			await again.frame("synced");
			// Resend everything with the same ids: acked ones come back as duplicates.
			for (let i = 0; i < 40; i++) again.send({ type: "send", id: `k${i}`, text: `kill ${i}` });
			await again.until(() => again.ofType("ack").length === 40, 20_000);
			for (const ack of again.ofType("ack")) {
				const before = acked.get(ack.id);
				if (before !== undefined) expect(ack).toMatchObject({ seq: before, duplicate: true });
			}
			const history = await fetch(`${restarted.url}/v1/rooms/${room}/events?limit=500&guest=ann`);
			const page = (await history.json()) as { events: Array<{ seq: number; text: string }> };
			expect(page.events.map((e) => e.seq)).toEqual(page.events.map((_, i) => i + 1));
			expect(new Set(page.events.map((e) => e.text)).size).toBe(40);
			expect(page.events).toHaveLength(40);
			again.close();
		} finally {
			await restarted?.stop();
			await own.stop().catch(() => undefined);
		}
	});
});

describe("the pages' headers", () => {
	it("serve the chat page and the console with a strict CSP, no framing and no sniffing", async ({ expect }) => {
		for (const path of ["/", "/console/", "/app.js", "/style.css"]) {
			const response = await fetch(`${server.url}${path}`);
			expect([path, response.status]).toEqual([path, 200]);
			const csp = response.headers.get("content-security-policy") ?? "";
			expect(csp).toContain("default-src 'none'");
			expect(csp).toContain("script-src 'self'");
			expect(csp).toContain("frame-ancestors 'none'");
			expect(csp).not.toContain("unsafe-inline");
			expect(response.headers.get("x-content-type-options")).toBe("nosniff");
			expect(response.headers.get("x-frame-options")).toBe("DENY");
			await response.body?.cancel();
		}
		// The rules file itself is not served.
		expect((await fetch(`${server.url}/_headers`)).status).toBe(404);
	});
});
