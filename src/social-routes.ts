/**
 * @module
 * v1.3 HTTP routes for reactions and read state (docs/protocol.md): the same rules as the
 * socket's `react` and `read` frames, checked in the contract's order (401, 400, 403, body).
 */
import type { Hono } from "hono";
import { type AppEnv, memberRoom, readJsonBody, roomStub, unwrap } from "./http.ts";
import { parseReactInput, parseReadInput } from "./protocol.ts";

export function registerSocialRoutes(app: Hono<AppEnv>): void {
	// Adds (or with `remove: true`, removes) one emoji: 201 with the event's seq, 200 `duplicate` when nothing changed.
	app.post("/v1/rooms/:room/messages/:msgId/reactions", async (c) => {
		const room = await memberRoom(c);
		const body = await readJsonBody(c);
		const input = unwrap(parseReactInput({ ...body, msgId: c.req.param("msgId") }));
		const result = unwrap(await roomStub(c, room).react(c.get("identity"), input, c.get("trace").traceId));
		return c.json(result, result.duplicate ? 200 : 201);
	});

	// Moves the caller's read marker forward (clamped to the room's lastSeq); answers it as stored.
	app.put("/v1/rooms/:room/read", async (c) => {
		const room = await memberRoom(c);
		const input = unwrap(parseReadInput(await readJsonBody(c)));
		return c.json(unwrap(await roomStub(c, room).markRead(c.get("identity"), input.seq)));
	});
}
