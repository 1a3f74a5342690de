/**
 * Naive durable baseline: the bare room, but each message is inserted into SQLite before it
 * is broadcast. No acks, no dedup, no transaction batching: what "just persist it" costs.
 * The broadcast is held by the output gate until the insert is durable. Never shipped.
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
	private seq: number;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const sql = ctx.storage.sql;
		sql.exec(
			"CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, msg_id TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL)",
		);
		this.seq = sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM messages").one().seq ?? 0;
	}

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
		const seq = ++this.seq;
		this.ctx.storage.sql.exec(
			"INSERT INTO messages (seq, msg_id, author, text, ts) VALUES (?, ?, ?, ?, ?)",
			seq,
			send.id,
			`guest:${guest}`,
			send.text,
			Date.now(),
		);
		const frame = messageFrame(seq, guest, send);
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
