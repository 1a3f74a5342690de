/**
 * The same broadcast-only room built on PartyServer (Cloudflare's `partyserver`), with
 * hibernation on, so its overhead over a hand-written DO can be read off the bench. Never shipped.
 */
import { getServerByName, Server, type Connection, type ConnectionContext, type WSMessage } from "partyserver";
import { greetingFrames, healthResponse, messageFrame, parseSend, parseSocketRoute } from "../../shared/wire.ts";

/**
 * partyserver types its Env against the global `Cloudflare.Env` (Parley's own bindings in this
 * repo), so this baseline keeps its binding type local and casts at the one call that needs it.
 */
interface Env {
	ROOM: DurableObjectNamespace;
}

interface State {
	guest: string;
}

export class Room extends Server {
	static override options = { hibernate: true };
	private seq = 0;

	override onConnect(connection: Connection, ctx: ConnectionContext): void {
		const route = parseSocketRoute(new URL(ctx.request.url));
		const guest = route?.guest ?? "anonymous";
		connection.setState({ guest } satisfies State);
		for (const frame of greetingFrames(this.name, guest)) connection.send(frame);
	}

	override onMessage(connection: Connection, message: WSMessage): void {
		if (typeof message !== "string") return;
		const send = parseSend(message);
		if (send === undefined) return;
		const state = connection.state as State | null;
		this.broadcast(messageFrame(++this.seq, state?.guest ?? "anonymous", send));
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
		const stub = await getServerByName(env.ROOM as unknown as DurableObjectNamespace<Room>, route.room);
		return stub.fetch(request);
	},
} satisfies ExportedHandler<Env>;
