/**
 * Bare baseline: a Durable Object room with hibernatable sockets that only broadcasts.
 * No storage, no acks, no dedup: the ceiling for a DO room on this runtime. Never shipped.
 */
import { DurableObject } from "cloudflare:workers";
import { greetingFrames, healthResponse, messageFrame, parseSend, parseSocketRoute } from "../../shared/wire.ts";

interface Env {
	ROOM: DurableObjectNamespace<Room>;
}

interface Attachment {
	guest: string;
}

export class Room extends DurableObject<Env> {
	/** In memory only: a bare room forgets its seq when it hibernates, which is fine here. */
	private seq = 0;

	override async fetch(request: Request): Promise<Response> {
		const route = parseSocketRoute(new URL(request.url));
		if (route === undefined) return new Response("not found", { status: 404 });
		const { 0: client, 1: server } = new WebSocketPair();
		this.ctx.acceptWebSocket(server);
		server.serializeAttachment({ guest: route.guest } satisfies Attachment);
		for (const frame of greetingFrames(route.room, route.guest)) server.send(frame);
		return new Response(null, { status: 101, webSocket: client });
	}

	override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
		if (typeof message !== "string") return;
		const send = parseSend(message);
		if (send === undefined) return;
		const { guest } = ws.deserializeAttachment() as Attachment;
		const frame = messageFrame(++this.seq, guest, send);
		for (const socket of this.ctx.getWebSockets()) socket.send(frame);
	}
}

export default {
	async fetch(request, env): Promise<Response> {
		const url = new URL(request.url);
		if (url.pathname === "/health") return healthResponse();
		const route = parseSocketRoute(url);
		if (route === undefined || request.headers.get("Upgrade") !== "websocket") {
			return new Response("not found", { status: 404 });
		}
		return env.ROOM.getByName(route.room).fetch(request);
	},
} satisfies ExportedHandler<Env>;
