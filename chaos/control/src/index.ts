/**
 * The bare control for the leaks scenario: accepts hibernatable sockets on the same URL
 * shape as Parley, sends a welcome and a synced frame, acks sends, and closes on close.
 */
import { DurableObject } from "cloudflare:workers";

export class Room extends DurableObject {
	override async fetch(): Promise<Response> {
		const { 0: client, 1: server } = new WebSocketPair();
		this.ctx.acceptWebSocket(server);
		server.serializeAttachment({ at: Date.now() });
		server.send(JSON.stringify({ type: "welcome", room: "control", user: { id: "x", name: "x" }, lastSeq: 0, online: [] }));
		server.send(JSON.stringify({ type: "synced", through: 0 }));
		return new Response(null, { status: 101, webSocket: client });
	}

	override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		const frame = typeof message === "string" ? (JSON.parse(message) as { id?: string }) : {};
		ws.send(JSON.stringify({ type: "ack", id: frame.id ?? "", seq: 1, msgId: "1-0000000000", traceId: "", duplicate: false }));
	}

	override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		try {
			ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
		} catch {
			// Already closed.
		}
	}
}

export default {
	async fetch(request: Request, env: { ROOM: DurableObjectNamespace<Room> }): Promise<Response> {
		const room = /^\/v1\/rooms\/([^/]+)\/ws$/.exec(new URL(request.url).pathname)?.[1];
		if (room !== undefined) return await env.ROOM.getByName(room).fetch(request);
		return Response.json({ ok: true });
	},
};
