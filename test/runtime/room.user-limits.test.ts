/**
 * Limits per user, not per socket: one user's sockets and HTTP posts in a room share one
 * allowance, reconnecting does not refill it, one user holds at most MAX_SOCKETS_PER_USER
 * sockets in a room, opening a socket costs SOCKET_OPEN_COST tokens, and a flooding user does
 * not eat another user's allowance.
 * (The test Worker runs with the default RATE_LIMIT_PER_SEC of 10, burst 20.)
 */
import { exports } from "cloudflare:workers";
import { describe, it } from "vitest";
import type { ServerFrame } from "../../src/protocol.ts";
import { api, BASE, freshRoom, join, type TestSocket } from "./helpers.ts";

const answers = (socket: TestSocket): Array<Extract<ServerFrame, { type: "ack" | "error" }>> =>
	socket.frames.filter(
		(f): f is Extract<ServerFrame, { type: "ack" | "error" }> => typeof f !== "string" && (f.type === "ack" || f.type === "error"),
	);

/** Joins, waiting out 429s: opening sockets takes from the user's allowance too. */
async function joinPatiently(room: string, query: string): Promise<TestSocket> {
	const deadline = Date.now() + 10_000;
	for (;;) {
		try {
			return await join(room, query);
		} catch (error) {
			if (Date.now() > deadline || !String(error).includes("429")) throw error;
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}
}

const refill = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2100));

async function answered(socket: TestSocket, count: number): Promise<void> {
	await socket.until(() => answers(socket).length >= count, 10_000);
}

describe("per-user limits", () => {
	it("shares one allowance across ten sockets of one user", async ({ expect }) => {
		const room = freshRoom();
		const sockets: TestSocket[] = [];
		for (let i = 0; i < 10; i++) sockets.push(await joinPatiently(room, "guest=greedy"));
		await refill();
		const started = Date.now();
		sockets.forEach((socket, s) => {
			for (let i = 0; i < 20; i++) socket.send({ type: "send", id: `s${s}-${i}`, text: "x" });
		});
		for (const socket of sockets) await answered(socket, 20);
		const seconds = (Date.now() - started) / 1000;
		const acked = sockets.flatMap((socket) => answers(socket).filter((a) => a.type === "ack")).length;
		// One burst of 20, plus what refilled at 10/s while the 200 frames arrived; per socket it would be 200.
		expect(acked).toBeGreaterThanOrEqual(20);
		expect(acked).toBeLessThanOrEqual(20 + Math.ceil(10 * seconds) + 1);
		expect(acked).toBeLessThan(200);
	});

	it("does not refill the allowance on reconnect", async ({ expect }) => {
		const room = freshRoom();
		const first = await join(room, "guest=hopper");
		for (let i = 0; i < 20; i++) first.send({ type: "send", id: `a${i}`, text: "x" });
		await answered(first, 20);
		first.close();
		const second = await joinPatiently(room, "guest=hopper");
		for (let i = 0; i < 15; i++) second.send({ type: "send", id: `b${i}`, text: "x" });
		await answered(second, 15);
		// A fresh per-socket bucket would take all 15; the user's spent one cannot.
		const limited = answers(second).filter((a) => a.type === "error" && a.code === "rate_limited").length;
		expect(limited).toBeGreaterThan(0);
	});

	it("counts HTTP posts against the same allowance, with 429 and retryAfterMs", async ({ expect }) => {
		const room = freshRoom();
		// Sent at once, and judged against the time they took: a slow machine refills the bucket
		// (10 a second) while the posts are still being answered.
		const started = Date.now();
		const responses = await Promise.all(
			Array.from({ length: 60 }, (_, i) =>
				api(`/v1/rooms/${room}/messages?guest=poster`, { method: "POST", body: JSON.stringify({ id: `p${i}`, text: "x" }) }),
			),
		);
		const spentMs = Date.now() - started;
		const accepted = responses.filter((r) => r.status === 201).length;
		const refused = responses.filter((r) => r.status === 429);
		expect(accepted + refused.length).toBe(60);
		// One user's bucket: a burst of 20, then 10 a second.
		expect(accepted).toBeLessThanOrEqual(20 + Math.ceil(spentMs / 100) + 1);
		if (spentMs < 3000) expect(refused.length).toBeGreaterThan(0);
		for (const response of refused) {
			expect(((await response.json()) as { error: { retryAfterMs?: number } }).error.retryAfterMs).toBeGreaterThan(0);
		}
		// The allowance the posts spent is the socket's too: a burst right after joining meets the limit.
		const drained = Date.now();
		const socket = await joinPatiently(room, "guest=poster");
		for (let i = 0; i < 10; i++) socket.send({ type: "send", id: `after-http-${i}`, text: "x" });
		await answered(socket, 10);
		// Within a second the bucket holds at most 10, less the 5 the socket cost to open.
		if (Date.now() - drained < 1000) {
			expect(answers(socket).filter((a) => a.type === "error" && a.code === "rate_limited").length).toBeGreaterThan(0);
		}
	});

	it("charges for opening a socket, so reconnecting in a loop is refused with 429", async ({ expect }) => {
		const room = freshRoom();
		const statuses: number[] = [];
		for (let i = 0; i < 8; i++) {
			const response = await exports.default.fetch(
				new Request(`${BASE}/v1/rooms/${room}/ws?guest=looper`, { headers: { Upgrade: "websocket" } }),
			);
			statuses.push(response.status);
			response.webSocket?.accept();
			response.webSocket?.close(1000, "again");
		}
		// A burst of 20 pays for four opens at 5 each; the rest must wait.
		expect(statuses.slice(0, 4)).toEqual([101, 101, 101, 101]);
		expect(statuses.slice(4)).toContain(429);
	});

	it("refuses an eleventh socket of one user in one room with 429 before accepting it", async ({ expect }) => {
		const room = freshRoom();
		const sockets: TestSocket[] = [];
		for (let i = 0; i < 10; i++) sockets.push(await joinPatiently(room, "guest=many"));
		await refill();
		const refused = await exports.default.fetch(
			new Request(`${BASE}/v1/rooms/${room}/ws?guest=many`, { headers: { Upgrade: "websocket" } }),
		);
		expect(refused.status).toBe(429);
		expect(refused.webSocket).toBeNull();
		// Another user is not affected, and a freed slot can be used again once the room sees the close.
		await join(room, "guest=other");
		sockets[0]?.close();
		let status = 0;
		for (let i = 0; i < 40 && status !== 101; i++) {
			await new Promise((resolve) => setTimeout(resolve, 50));
			const response = await exports.default.fetch(
				new Request(`${BASE}/v1/rooms/${room}/ws?guest=many`, { headers: { Upgrade: "websocket" } }),
			);
			status = response.status;
			response.webSocket?.accept();
			response.webSocket?.close(1000, "done");
		}
		expect(status).toBe(101);
	});

	it("keeps another user's allowance whole while one user floods", async ({ expect }) => {
		const room = freshRoom();
		const flooders: TestSocket[] = [];
		for (let i = 0; i < 5; i++) flooders.push(await joinPatiently(room, "guest=flood"));
		const victim = await join(room, "guest=victim");
		flooders.forEach((socket, s) => {
			for (let i = 0; i < 40; i++) socket.send({ type: "send", id: `f${s}-${i}`, text: "spam" });
		});
		// Within the victim's own burst (20, less the 5 its socket cost to open).
		for (let i = 0; i < 12; i++) victim.send({ type: "send", id: `v${i}`, text: "hello" });
		await answered(victim, 12);
		expect(answers(victim).map((a) => a.type)).toEqual(Array(12).fill("ack"));
	});
});

describe("the per-user HTTP budget", () => {
	it("answers 429 with retryAfterMs once one user has made 600 calls in a minute, whatever the route, and leaves others alone", async ({
		expect,
	}) => {
		const rooms = [freshRoom(), freshRoom()];
		// The limiter counts in windows aligned to the wall clock (as Cloudflare's does), so the
		// calls are counted per window: a run that straddles a minute boundary gets two budgets.
		const passedPerWindow = new Map<number, number>();
		let refused = 0;
		let refusal: { code?: string; retryAfterMs?: number } | undefined;
		for (let i = 0; i < 1300 && refused < 20; i++) {
			const window = Math.floor(Date.now() / 60_000);
			const response = await api(`/v1/rooms/${rooms[i % 2]}/events?limit=1&guest=hammer`);
			if (response.status === 429) {
				refused++;
				refusal = ((await response.json()) as { error: typeof refusal }).error;
			} else {
				expect(response.status).toBe(200);
				passedPerWindow.set(window, (passedPerWindow.get(window) ?? 0) + 1);
				await response.body?.cancel();
			}
		}
		for (const passed of passedPerWindow.values()) expect(passed).toBeLessThanOrEqual(600);
		expect(refused).toBe(20);
		expect(refusal).toMatchObject({ code: "rate_limited" });
		expect(refusal?.retryAfterMs).toBeGreaterThan(0);
		expect((await api(`/v1/rooms/${rooms[0]}/events?limit=1&guest=bystander`)).status).toBe(200);
	}, 60_000);
});
