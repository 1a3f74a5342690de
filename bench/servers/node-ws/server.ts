/**
 * The non-edge alternative: an in-memory Node broadcast server on the `ws` package, speaking
 * the same bench wire subset as the Worker baselines. One process, no persistence.
 *
 *   node bench/servers/node-ws/server.ts --port 8790
 */
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { WebSocketServer, type WebSocket } from "ws";
import { greetingFrames, messageFrame, parseSend, parseSocketRoute } from "../shared/wire.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "8790" } } });
const port = Number(values.port);

const rooms = new Map<string, Set<WebSocket>>();
const seqs = new Map<string, number>();
// Compression off: the load generator does not offer it either, and workerd does not use it here.
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

const server = createServer((request, response) => {
	if (request.url === "/health") {
		response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
		return;
	}
	response.writeHead(404).end("not found");
});

server.on("upgrade", (request, socket, head) => {
	const route = parseSocketRoute(new URL(request.url ?? "/", "http://localhost"));
	if (route === undefined) {
		socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
		return;
	}
	wss.handleUpgrade(request, socket, head, (ws) => {
		let members = rooms.get(route.room);
		if (members === undefined) {
			members = new Set();
			rooms.set(route.room, members);
		}
		const room = members;
		room.add(ws);
		for (const frame of greetingFrames(route.room, route.guest)) ws.send(frame);
		ws.on("message", (data, isBinary) => {
			if (isBinary) return;
			const send = parseSend(data.toString());
			if (send === undefined) return;
			const seq = (seqs.get(route.room) ?? 0) + 1;
			seqs.set(route.room, seq);
			const frame = messageFrame(seq, route.guest, send);
			for (const member of room) member.send(frame);
		});
		ws.on("close", () => room.delete(ws));
		ws.on("error", () => room.delete(ws));
	});
});

server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
