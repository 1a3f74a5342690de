import { describe, it } from "vitest";
import { api, freshRoom, join, token } from "./helpers.ts";

describe("a room over sockets", () => {
	it("welcomes, acks a send after commit and broadcasts it with seq 1", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const welcome = await alice.frame("welcome");
		expect(welcome).toMatchObject({ room, user: { id: "guest:alice", name: "alice" }, lastSeq: 0 });
		alice.send({ type: "send", id: "c1", text: "hello" });
		const ack = await alice.frame("ack");
		expect(ack).toMatchObject({ id: "c1", seq: 1, duplicate: false });
		const message = await alice.frame("message");
		expect(message).toMatchObject({ seq: 1, msgId: ack.msgId, text: "hello", author: { id: "guest:alice" } });
		const page = await api(`/v1/rooms/${room}/events`, { token: await token({ sub: "reader" }) });
		expect(await page.json()).toMatchObject({ room, lastSeq: 1, events: [{ seq: 1, text: "hello" }] });
	});
});
