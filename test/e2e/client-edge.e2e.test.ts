/**
 * The client edge against the real `wrangler dev` with the default rate limit (10 frames/s,
 * burst 20), over real sockets, through a TCP proxy so the runtime can be killed and restarted
 * behind a stable address. Every case ends with the room's stored history checked: each message
 * exactly once, in the order of the `send()` calls, or the sender told why not.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParleyClient, ParleyClientError } from "../../client/index.ts";
import type { ParleyClientOptions, SendResult, StatusEvent } from "../../client/index.ts";
import { mintToken } from "../../scripts/mint-token.ts";
import type { EventsPage } from "../../src/protocol.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";
import { TcpProxy } from "./tcp-proxy.ts";

const DEFAULT_RATE = { RATE_LIMIT_PER_SEC: "10" };
let server: DevServer;
let proxy: TcpProxy;
const clients: ParleyClient[] = [];

beforeAll(async () => {
	server = await startDevServer({ vars: DEFAULT_RATE });
	proxy = await TcpProxy.start(server.port);
});

afterAll(async () => {
	for (const client of clients) client.close();
	await proxy?.close();
	await server?.stop();
});

const freshRoom = (): string => `edge-${crypto.randomUUID().slice(0, 8)}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function open(room: string, options: Partial<ParleyClientOptions>): { client: ParleyClient; statuses: StatusEvent[] } {
	const client = new ParleyClient({
		url: proxy.url,
		room,
		backoff: { minMs: 100, maxMs: 1000, factor: 2 },
		heartbeatIntervalMs: 500,
		heartbeatTimeoutMs: 1500,
		connectTimeoutMs: 5000,
		httpTimeoutMs: 5000,
		...options,
	});
	clients.push(client);
	const statuses: StatusEvent[] = [];
	client.on("status", (status) => statuses.push(status));
	return { client, statuses };
}

/** The texts of the room's stored messages, in seq order, read straight from the server. */
async function storedTexts(room: string): Promise<string[]> {
	const texts: string[] = [];
	for (let after = 0; ; ) {
		const response = await fetch(`${server.url}/v1/rooms/${room}/events?after=${after}&limit=500&guest=auditor`);
		const page = (await response.json()) as EventsPage;
		for (const event of page.events) if (event.type === "message") texts.push(event.text);
		after = page.events.at(-1)?.seq ?? after;
		if (page.events.length === 0 || after >= page.lastSeq) return texts;
	}
}

/** Kills the runtime (as a crash would) and cuts every proxied connection. */
async function crash(): Promise<void> {
	proxy.setTarget(undefined);
	await server.kill();
	proxy.cutAll();
}

async function restart(): Promise<void> {
	server = await startDevServer({ persistTo: server.persistTo, vars: DEFAULT_RATE });
	proxy.setTarget(server.port);
}

describe("the client edge against wrangler dev, default rate limit", () => {
	it("fails a 20,000-char send fast with too_large, and acks the next send without a reconnect", async () => {
		const room = freshRoom();
		const { client, statuses } = open(room, { guest: "zed" });
		await client.connect();
		const started = Date.now();
		const poison = await client.send("Z".repeat(20_000)).catch((error: unknown) => error);
		expect(poison).toBeInstanceOf(ParleyClientError);
		expect((poison as ParleyClientError).code).toBe("too_large");
		expect(Date.now() - started).toBeLessThan(1000);
		const next = await client.send("after the poison");
		expect(next.duplicate).toBe(false);
		expect(statuses.filter((s) => s.state === "connecting")).toHaveLength(1);
		expect(await storedTexts(room)).toEqual(["after the poison"]);
	});

	it("stores 60 sends issued at once, all acked, in send() order", async () => {
		const room = freshRoom();
		const { client } = open(room, { guest: "burst" });
		await client.connect();
		const texts = Array.from({ length: 60 }, (_, i) => `burst ${i}`);
		const refusals: string[] = [];
		client.on("error", (error) => refusals.push(error.code));
		const acks = await Promise.all(texts.map((text) => client.send(text)));
		expect(acks.map((a) => a.seq)).toEqual(texts.map((_, i) => i + 1));
		expect(await storedTexts(room)).toEqual(texts);
		// Paced to the advertised rate: the limiter never had to refuse anything.
		expect(refusals).toEqual([]);
	});

	it("keeps a client with 3-second tokens sending for 15 s across a server restart, each message stored once", async () => {
		const room = freshRoom();
		let minted = 0;
		const { client } = open(room, {
			token: async () => {
				minted++;
				return await mintToken({ sub: "short-lived", name: "Shorty", ttlSeconds: 3 });
			},
		});
		await client.connect();
		const texts: string[] = [];
		const acks: Array<Promise<SendResult>> = [];
		const started = Date.now();
		let restarted = false;
		for (let i = 0; Date.now() - started < 15_000; i++) {
			texts.push(`tick ${i}`);
			acks.push(client.send(`tick ${i}`));
			if (!restarted && Date.now() - started > 6000) {
				restarted = true;
				await crash();
				await sleep(1000);
				await restart();
			}
			await sleep(250);
		}
		const results = await Promise.all(acks);
		expect(new Set(results.map((r) => r.msgId)).size).toBe(texts.length);
		expect(await storedTexts(room)).toEqual(texts);
		// Tokens ran out several times over: the provider was asked for each new socket.
		expect(minted).toBeGreaterThanOrEqual(4);
	});

	it("stores 30 messages queued while the server is down exactly once, in order, within 30 s of the restart", async () => {
		const room = freshRoom();
		const { client } = open(room, { guest: "outage" });
		await client.connect();
		await client.send("before");
		await crash();
		const texts = Array.from({ length: 30 }, (_, i) => `queued ${i}`);
		const acks = texts.map((text) => client.send(text));
		await sleep(2000);
		expect(client.pending).toBe(30);
		await restart();
		const restartedAt = Date.now();
		await Promise.all(acks);
		expect(Date.now() - restartedAt).toBeLessThan(30_000);
		expect(await storedTexts(room)).toEqual(["before", ...texts]);
	});
});
