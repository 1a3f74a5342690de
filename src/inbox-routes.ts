/**
 * @module
 * v1.4 HTTP routes of a user's view across rooms (docs/protocol.md, "v1.4 additions"): the
 * inbox and its mentions, direct messages, and joining rooms. Each is served by the caller's
 * own inbox (objects/inbox.ts); the checks keep the contract's order (401, 400, 403, body).
 */
import type { Hono } from "hono";
import type { Inbox } from "../objects/inbox.ts";
import { ParleyError } from "./errors.ts";
import { type AppContext, type AppEnv, memberRoom, readJsonBody, unwrap } from "./http.ts";
import { type DmResult, dmRoomId } from "./inbox-protocol.ts";
import { parseDmInput, parseMentionsQuery } from "./inbox-rules.ts";

function inboxOf(c: AppContext, userId = c.get("identity").id): DurableObjectStub<Inbox> {
	return c.env.INBOX.getByName(userId);
}

export function registerInboxRoutes(app: Hono<AppEnv>): void {
	app.get("/v1/me/inbox", async (c) => c.json(await inboxOf(c).page(c.get("identity"))));

	app.get("/v1/me/mentions", async (c) => {
		const query = unwrap(parseMentionsQuery(new URL(c.req.url).searchParams));
		return c.json(await inboxOf(c).mentions(c.get("identity"), query));
	});

	// The pair's DM room, in both inboxes: the peer's first, so the caller never holds a DM its
	// peer lacks; both writes are idempotent, so a caller refused `unavailable` just retries.
	app.post("/v1/dms", async (c) => {
		const identity = c.get("identity");
		if (identity.guest) throw new ParleyError("forbidden", "guests may not start direct messages");
		const peer = unwrap(parseDmInput(await readJsonBody(c), identity.id));
		const room = await dmRoomId(identity.id, peer);
		let theirs: Awaited<ReturnType<Inbox["addDm"]>>;
		try {
			theirs = await inboxOf(c, peer).addDm(room, { id: identity.id, name: identity.name });
		} catch (error) {
			console.warn(JSON.stringify({ level: "warn", msg: "dm.peer_unavailable", room, error: String(error) }));
			throw new ParleyError("unavailable", "the other user's inbox could not be reached; retry");
		}
		const them = unwrap(theirs).user;
		const mine = unwrap(await inboxOf(c).addDm(room, them, identity.name));
		const result: DmResult = { room, with: them, created: mine.created };
		return c.json(result, mine.created ? 201 : 200);
	});

	app.post("/v1/rooms/:room/join", async (c) => {
		const room = await memberRoom(c);
		return c.json(unwrap(await inboxOf(c).join(room)));
	});

	app.delete("/v1/rooms/:room/join", async (c) => {
		const room = await memberRoom(c);
		return c.json(await inboxOf(c).leave(room));
	});
}
