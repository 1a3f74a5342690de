/**
 * v1.3 typing over sockets: never stored, passed on to everyone else's sockets, at most one
 * per user per TYPING_INTERVAL_MS (the room's clock seam moves time on instead of sleeping),
 * ignored from users the policy keeps from posting, and never in the way of a send.
 */
import { env } from "cloudflare:workers";
import { describe, it } from "vitest";
import { TYPING_INTERVAL_MS } from "../../src/protocol.ts";
import { advanceClock, api, freshRoom, join, type TestSocket, token } from "./helpers.ts";

/** Sends a send frame and waits for its answer, so every frame before it has been handled. */
async function settle(socket: TestSocket, id: string): Promise<void> {
	socket.send({ type: "send", id, text: "sync" });
	await socket.until((frames) =>
		frames.find((f) => typeof f !== "string" && (f.type === "ack" || f.type === "error") && "id" in f && f.id === id),
	);
}

describe("typing", () => {
	it("goes to the other users' sockets only, never to the typist's own, and is not stored", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const aliceTab = await join(room, "guest=alice");
		const bob = await join(room, "guest=bob");
		alice.send({ type: "typing" });
		expect(await bob.frame("typing")).toEqual({ type: "typing", user: { id: "guest:alice", name: "alice" } });
		await settle(alice, "s1");
		await settle(aliceTab, "s2");
		expect(alice.ofType("typing")).toHaveLength(0);
		expect(aliceTab.ofType("typing")).toHaveLength(0);
		const history = await api(`/v1/rooms/${room}/events`, { token: await token({ sub: "reader" }) });
		expect(((await history.json()) as { lastSeq: number }).lastSeq).toBe(2);
	});

	it("passes on one per user per interval, judged by the room's clock", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const bob = await join(room, "guest=bob");
		const carol = await join(room, "guest=carol");
		alice.send({ type: "typing" });
		alice.send({ type: "typing" });
		carol.send({ type: "typing" });
		await bob.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "typing").length === 2);
		await settle(alice, "s1");
		await settle(carol, "s2");
		expect(bob.ofType("typing").map((f) => f.user.id)).toEqual(["guest:alice", "guest:carol"]);
		await advanceClock(env.ROOM.getByName(room), TYPING_INTERVAL_MS - 100);
		alice.send({ type: "typing" });
		await settle(alice, "s3");
		expect(bob.ofType("typing")).toHaveLength(2);
		await advanceClock(env.ROOM.getByName(room), 100);
		alice.send({ type: "typing" });
		await bob.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "typing").length === 3);
		expect(bob.ofType("typing").at(-1)?.user.id).toBe("guest:alice");
	});

	it("is ignored, without an answer, from users the policy keeps from posting", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		const bob = await join(room, "guest=bob");
		const dana = await join(room, `token=${await token({ sub: "dana" })}`);
		const ops = await join(room, `token=${await token({ sub: "ops", role: "admin" })}`);
		await stub.updatePolicy({ readOnly: true, banned: ["guest:bob"] });
		bob.send({ type: "typing" });
		dana.send({ type: "typing" });
		ops.send({ type: "typing" });
		expect(await dana.frame("typing")).toMatchObject({ user: { id: "ops" } });
		// Their sends are refused, which shows that their typing frames were handled before.
		await settle(bob, "b1");
		await settle(dana, "d1");
		expect(ops.ofType("typing")).toHaveLength(0);
		expect(dana.ofType("typing")).toHaveLength(1);
		expect(bob.ofType("typing").map((f) => f.user.id)).toEqual(["ops"]);
		expect(bob.ofType("error").map((f) => f.code)).toEqual(["banned"]);
		expect(dana.ofType("error").map((f) => f.code)).toEqual(["read_only"]);
	});

	it("never holds back a send: one passed on costs nothing from the allowance", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		const alice = await join(room, "guest=alice");
		const bob = await join(room, "guest=bob");
		// Let the socket opening's cost refill, so the whole burst (20 at 10/s) is there.
		await advanceClock(stub, 10_000);
		for (let round = 0; round < 3; round++) {
			alice.send({ type: "typing" });
			for (let i = 0; i < 20; i++) alice.send({ type: "send", id: `m${round}-${i}`, text: "hi" });
			await alice.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "ack").length === 20 * (round + 1));
			await advanceClock(stub, Math.max(TYPING_INTERVAL_MS, 2000));
		}
		expect(alice.ofType("error")).toEqual([]);
		expect(bob.ofType("typing")).toHaveLength(3);
	});

	it("is bounded: a flood of typing frames takes from the allowance, is refused, and closes the socket", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const bob = await join(room, "guest=bob");
		for (let i = 0; i < 200; i++) alice.send({ type: "typing", id: `t${i}` });
		const closed = await alice.waitClosed();
		expect(closed.code).toBe(1008);
		expect(alice.ofType("error").some((f) => f.code === "rate_limited" && f.id !== undefined)).toBe(true);
		await settle(bob, "b1");
		expect(bob.ofType("typing")).toHaveLength(1);
	});
});
