/**
 * The client's side of v1.2: it asks for batch and coalesced presence by default, unpacks
 * batches so listeners see the same events and acks as from single frames, and keeps who is
 * online from coalesced windows, counts and member pages.
 */
import { describe, expect, it, vi } from "vitest";
import type { PresenceFrame } from "../../client/index.ts";
import type { AckFrame, MembersPage, RoomEvent, WelcomeFrame } from "../../src/protocol.ts";
import { harness, message, welcome } from "../support/fake-room.ts";

const user = (name: string) => ({ id: `guest:${name}`, name });

async function live(h: ReturnType<typeof harness>) {
	const connected = h.client.connect();
	const socket = await h.socket(0);
	socket.open();
	socket.push(welcome(0));
	socket.push({ type: "synced", through: 0 });
	await connected;
	return socket;
}

describe("v1.2 features in the client", () => {
	it("asks for batch and presence by default, and for nothing with features: []", async () => {
		const h = harness();
		h.client.connect().catch(() => undefined);
		expect((await h.socket(0)).url.searchParams.get("features")).toBe("batch,presence");
		h.client.close();
		const v1 = harness({ features: [] });
		v1.client.connect().catch(() => undefined);
		expect((await v1.socket(0)).url.searchParams.has("features")).toBe(false);
	});

	it("unpacks a batch: events in seq order, then the acks, exactly as single frames would come", async () => {
		const h = harness();
		const socket = await live(h);
		const order: string[] = [];
		h.client.on("message", (m) => order.push(`message ${m.seq}`));
		h.client.on("ack", (a) => order.push(`ack ${a.id}`));
		const first = h.client.send("one", { id: "a" });
		const second = h.client.send("two", { id: "b" });
		await vi.waitFor(() => expect(socket.frames().map((f) => f.id)).toEqual(["a", "b"]));
		const ack = (id: string, seq: number): AckFrame => ({ type: "ack", id, seq, msgId: `msg-${seq}`, traceId: "t", duplicate: false });
		socket.push({ type: "batch", events: [message(1), message(2), message(3)], acks: [ack("a", 1), ack("b", 3)] });
		await expect(first).resolves.toMatchObject({ seq: 1 });
		await expect(second).resolves.toMatchObject({ seq: 3 });
		expect(order).toEqual(["message 1", "message 2", "message 3", "ack a", "ack b"]);
		// A batch that repeats delivered events, or skips ahead, goes through the same sequencer.
		socket.push({ type: "batch", events: [message(3), message(4)] });
		expect(h.delivered).toEqual([1, 2, 3, 4]);
		expect(h.client.pending).toBe(0);
	});

	it("fills a gap left by a batch over HTTP, as with single frames", async () => {
		const retract: RoomEvent = { type: "retract", seq: 3, msgId: "msg-1", reason: "deleted", ts: 3, traceId: "t" };
		const h = harness({}, () => Response.json({ room: "lobby", events: [message(2), retract], lastSeq: 4 }));
		const socket = await live(h);
		socket.push({ type: "batch", events: [message(1)] });
		socket.push({ type: "batch", events: [message(4)] });
		await vi.waitFor(() => expect(h.delivered).toEqual([1, 2, 4]));
		expect(h.requests.map((url) => url.searchParams.get("after"))).toEqual(["1"]);
	});

	it("keeps who is online from coalesced windows, and says when a big room only counts", async () => {
		const h = harness();
		const socket = await live(h);
		const presence: PresenceFrame[] = [];
		const online: Array<{ count: number; complete: boolean }> = [];
		h.client.on("presence", (p) => presence.push(p));
		h.client.on("online", (o) => online.push(o));
		socket.push({ type: "presence", mode: "list", count: 3, joined: [user("bob"), user("cy"), user("alice")], left: [user("zed")] });
		expect(h.client.online.map((u) => u.id).sort()).toEqual(["guest:alice", "guest:bob", "guest:cy"]);
		// One v1-shaped event per user who actually came or went.
		expect(presence).toEqual([
			{ type: "presence", joined: user("bob") },
			{ type: "presence", joined: user("cy") },
		]);
		expect(online.at(-1)).toEqual({ count: 3, complete: true });

		socket.push({ type: "presence", mode: "count", count: 250 });
		expect(h.client.onlineCount).toBe(250);
		expect(h.client.onlineComplete).toBe(false);
		expect(online.at(-1)).toEqual({ count: 250, complete: false });
		expect(presence).toHaveLength(2);

		socket.push({ type: "presence", mode: "list", count: 2, members: [user("alice"), user("dee")] });
		expect(h.client.online.map((u) => u.id)).toEqual(["guest:alice", "guest:dee"]);
		expect(presence.slice(2)).toEqual([
			{ type: "presence", left: user("bob") },
			{ type: "presence", left: user("cy") },
			{ type: "presence", joined: user("dee") },
		]);
		expect(online.at(-1)).toEqual({ count: 2, complete: true });
	});

	it("takes a capped welcome as a sample, and pages the member list", async () => {
		const body: MembersPage = { room: "lobby", count: 300, members: [user("a"), user("b")], cursor: "guest:b" };
		const h = harness({}, () => Response.json(body));
		const connected = h.client.connect();
		const socket = await h.socket(0);
		socket.open();
		socket.push({ ...(welcome(0) as WelcomeFrame), onlineTotal: 300 });
		socket.push({ type: "synced", through: 0 });
		await connected;
		expect(h.client.onlineCount).toBe(300);
		expect(h.client.onlineComplete).toBe(false);
		await expect(h.client.members({ cursor: "guest:a", limit: 2 })).resolves.toEqual(body);
		const url = h.requests.at(-1);
		expect(url?.pathname).toBe("/v1/rooms/lobby/members");
		expect([url?.searchParams.get("cursor"), url?.searchParams.get("limit"), url?.searchParams.get("guest")]).toEqual([
			"guest:a",
			"2",
			"alice",
		]);
	});
});
