/**
 * The client's connection loop against a scripted fake server: resume by seq, catch-up over
 * HTTP, resends with the same id, the 401 probe, the heartbeat and rate limiting. Real
 * timers with small values, and waits with deadlines; no runtime-specific APIs.
 */
import { describe, expect, it, vi } from "vitest";
import { ParleyClient } from "../../client/index.ts";
import type { RoomEvent } from "../../src/protocol.ts";
import { type FakeSocket, goLive, harness, message, page, welcome } from "../support/fake-room.ts";

describe("client connection loop", () => {
	it("joins with the latest events, then resumes with since = last delivered seq", async () => {
		const h = harness();
		const connected = h.client.connect();
		const first = await h.socket(0);
		expect(first.url.searchParams.get("guest")).toBe("alice");
		expect(first.url.searchParams.has("since")).toBe(false);
		first.open();
		first.push(welcome(60));
		for (let seq = 11; seq <= 60; seq++) first.push(message(seq));
		first.push({ type: "synced", through: 60 });
		await connected;
		expect(h.delivered).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
		expect(h.requests).toEqual([]);

		first.push(message(61));
		first.close(1006);
		const second = await h.socket(1);
		expect(second.url.searchParams.get("since")).toBe("61");
		second.open();
		second.push(welcome(62));
		second.push(message(61)); // overlap: must not be delivered twice
		second.push(message(62));
		second.push({ type: "synced", through: 62 });
		await vi.waitFor(() => expect(h.client.state).toBe("live"));
		expect(h.delivered.slice(-2)).toEqual([61, 62]);
		expect(new Set(h.delivered).size).toBe(h.delivered.length);
	});

	it("pages the rest over HTTP when the replay stops short, without losing live events", async () => {
		let socket: FakeSocket | undefined;
		const h = harness({ since: 0 }, (url) => {
			const after = Number(url.searchParams.get("after"));
			// A live event lands on the socket while the page is in flight.
			socket?.push(message(1003));
			const events: RoomEvent[] = [];
			for (let seq = after + 1; seq <= Math.min(after + 500, 1002); seq++) events.push(message(seq));
			return page(events, 1002);
		});
		const connected = h.client.connect();
		socket = await h.socket(0);
		expect(socket.url.searchParams.get("since")).toBe("0");
		socket.open();
		socket.push(welcome(1002));
		for (let seq = 1; seq <= 500; seq++) socket.push(message(seq));
		socket.push({ type: "synced", through: 500 });
		await connected;
		expect(h.requests.map((url) => url.searchParams.get("after"))).toEqual(["500", "1000"]);
		expect(h.requests[0]?.searchParams.get("guest")).toBe("alice");
		expect(h.delivered).toEqual(Array.from({ length: 1003 }, (_, i) => i + 1));
	});

	it("fills a gap seen on a live socket", async () => {
		const h = harness({ since: 3 }, () => page([message(5), message(6)], 7));
		const connected = h.client.connect();
		const socket = await h.socket(0);
		socket.open();
		socket.push(welcome(4));
		socket.push(message(4));
		socket.push({ type: "synced", through: 4 });
		await connected;
		socket.push(message(7));
		await vi.waitFor(() => expect(h.delivered).toEqual([4, 5, 6, 7]));
	});

	it("keeps sends made offline and resends unacked ones with the same id after a reconnect", async () => {
		const h = harness();
		const early = h.client.send("queued before connecting", { id: "c1" });
		const connected = h.client.connect();
		const first = await h.socket(0);
		first.open();
		expect(first.frames()).toEqual([]); // nothing is written before the welcome
		first.push(welcome(0));
		expect(first.frames().map((f) => f.id)).toEqual(["c1"]);
		first.push({ type: "synced", through: 0 });
		await connected;
		// The connection dies before the ack: the server may or may not have stored it.
		first.close(1006);
		const second = await h.socket(1);
		second.open();
		second.push(welcome(1));
		expect(second.frames()).toEqual([{ type: "send", id: "c1", text: "queued before connecting" }]);
		second.push({ type: "ack", id: "c1", seq: 1, msgId: "m1", traceId: "t", duplicate: true });
		await expect(early).resolves.toEqual({ seq: 1, msgId: "m1", traceId: "t", duplicate: true });
		expect(h.client.pending).toBe(0);
	});

	it("stops for good when the probe says the credentials are refused (no retry storm)", async () => {
		const h = harness({}, () => Response.json({ error: { code: "unauthorized", message: "bad token" } }, { status: 401 }));
		const connected = h.client.connect();
		const pendingSend = h.client.send("never");
		(await h.socket(0)).refuse();
		await expect(connected).rejects.toMatchObject({ code: "unauthorized" });
		await expect(pendingSend).rejects.toMatchObject({ code: "unauthorized" });
		expect(h.client.state).toBe("unauthorized");
		expect(h.requests.map((url) => url.searchParams.get("limit"))).toEqual(["1"]);
		await new Promise((resolve) => setTimeout(resolve, 60));
		expect(h.sockets.length).toBeLessThanOrEqual(2);
		expect(h.statuses.at(-1)?.state).toBe("unauthorized");
	});

	it("keeps retrying with growing delays while the server is unreachable", async () => {
		const h = harness({ random: () => 0.999 }, () => {
			throw new TypeError("fetch failed");
		});
		void h.client.connect().catch(() => undefined);
		for (let i = 0; i < 4; i++) (await h.socket(i)).refuse();
		const waits = h.statuses.filter((s) => s.state === "reconnecting").map((s) => s.delayMs);
		expect(waits).toEqual([5, 10, 20, 20]);
		const next = await h.socket(4);
		next.open();
		next.push(welcome(0));
		next.push({ type: "synced", through: 0 });
		await vi.waitFor(() => expect(h.client.state).toBe("live"));
		next.close(1006);
		await vi.waitFor(() => expect(h.statuses.at(-1)?.state).toBe("connecting"));
		const afterReset = h.statuses.filter((s) => s.state === "reconnecting").at(-1);
		expect(afterReset).toMatchObject({ attempt: 1, delayMs: 5 });
	});

	it("declares a silent socket dead after the heartbeat timeout and reconnects", async () => {
		const h = harness({ heartbeatIntervalMs: 20, heartbeatTimeoutMs: 30 });
		const first = await goLive(h);
		// Half-open: the socket stays "open" but nothing comes back.
		const second = await h.socket(1);
		expect(first.sent.filter((data) => data === "ping").length).toBeGreaterThanOrEqual(1);
		expect(h.statuses.some((s) => s.reason === "heartbeat timeout")).toBe(true);
		expect(second.url.searchParams.get("since")).toBe("0");
	});

	it("keeps a socket that answers its pings", async () => {
		const h = harness({ heartbeatIntervalMs: 10, heartbeatTimeoutMs: 25 });
		const connected = h.client.connect();
		const socket = await h.socket(0);
		const timer = setInterval(() => {
			if (socket.sent.includes("ping")) socket.push("pong");
		}, 5);
		socket.open();
		socket.push(welcome(0));
		socket.push({ type: "synced", through: 0 });
		await connected;
		await new Promise((resolve) => setTimeout(resolve, 150));
		clearInterval(timer);
		expect(h.sockets.length).toBe(1);
		expect(h.client.state).toBe("live");
	});

	it("holds a rate-limited send for retryAfterMs and resends it with the same id", async () => {
		const h = harness();
		const socket = await goLive(h);
		const sent = h.client.send("slow down", { id: "r1" });
		expect(socket.frames().map((f) => f.id)).toEqual(["r1"]);
		const refusedAt = Date.now();
		socket.push({ type: "error", code: "rate_limited", message: "slow", retryAfterMs: 80, id: "r1" });
		await vi.waitFor(() => expect(socket.frames().map((f) => f.id)).toEqual(["r1", "r1"]), { timeout: 1000 });
		expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(75);
		socket.push({ type: "ack", id: "r1", seq: 1, msgId: "m1", traceId: "t", duplicate: false });
		await expect(sent).resolves.toMatchObject({ msgId: "m1", duplicate: false });
	});

	it("rejects a send the server refuses for good, and keeps the socket", async () => {
		const h = harness();
		const socket = await goLive(h);
		const sent = h.client.send("x".repeat(10), { id: "big" });
		socket.push({ type: "error", code: "too_large", message: "too long", id: "big" });
		await expect(sent).rejects.toMatchObject({ code: "too_large", id: "big" });
		expect(h.client.state).toBe("live");
		expect(h.client.pending).toBe(0);
	});

	it("tracks who is online from welcome and presence", async () => {
		const h = harness();
		const connected = h.client.connect();
		const socket = await h.socket(0);
		socket.open();
		socket.push(welcome(0));
		socket.push({ type: "presence", joined: { id: "guest:bob", name: "bob" } });
		socket.push({ type: "synced", through: 0 });
		await connected;
		expect(h.client.online.map((u) => u.id)).toEqual(["guest:alice", "guest:bob"]);
		socket.push({ type: "presence", left: { id: "guest:bob", name: "bob" } });
		expect(h.client.online.map((u) => u.id)).toEqual(["guest:alice"]);
	});

	it("refuses bad options up front", () => {
		expect(() => new ParleyClient({ url: "http://x", room: "Bad Room", guest: "a" })).toThrow(TypeError);
		expect(() => new ParleyClient({ url: "http://x", room: "lobby" })).toThrow(TypeError);
		expect(() => new ParleyClient({ url: "http://x", room: "lobby", guest: "a b" })).toThrow(TypeError);
	});
});
