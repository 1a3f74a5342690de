/**
 * The slice of Parley's wire contract that the bench baselines speak, so that the load
 * generator is byte-for-byte the same against every server: the socket route
 * `/v1/rooms/{room}/ws?guest=<name>`, `welcome` + `synced` on connect, and a `message`
 * frame broadcast to every socket (the sender's included) for each `send`. Baselines skip
 * acks, dedup, presence and replay on purpose: they are the floor Parley is measured against.
 * Shared by the Worker baselines (bundled by wrangler) and the Node ws server.
 */

export interface SocketRoute {
	room: string;
	guest: string;
}

const ROUTE = /^\/v1\/rooms\/([a-z0-9][a-z0-9._-]{0,63})\/ws$/;
const GUEST = /^[A-Za-z0-9_-]{1,32}$/;

/** Parses the socket URL; `undefined` means "not a socket route we serve". */
export function parseSocketRoute(url: URL): SocketRoute | undefined {
	const match = ROUTE.exec(url.pathname);
	const guest = url.searchParams.get("guest") ?? "";
	if (match === null || match[1] === undefined || !GUEST.test(guest)) return undefined;
	return { room: match[1], guest };
}

/** The two frames every server sends on connect; the load generator waits for `synced`. */
export function greetingFrames(room: string, guest: string): string[] {
	const user = { id: `guest:${guest}`, name: guest };
	return [JSON.stringify({ type: "welcome", room, user, lastSeq: 0, online: [] }), JSON.stringify({ type: "synced", through: 0 })];
}

export interface SendFrame {
	id: string;
	text: string;
}

/** Accepts a `send` frame; anything else (including the `ping` heartbeat) is ignored. */
export function parseSend(raw: string): SendFrame | undefined {
	if (raw === "ping") return undefined;
	let data: unknown;
	try {
		data = JSON.parse(raw);
	} catch {
		return undefined;
	}
	if (typeof data !== "object" || data === null) return undefined;
	const frame = data as Record<string, unknown>;
	if (frame.type !== "send" || typeof frame.id !== "string" || typeof frame.text !== "string") return undefined;
	return { id: frame.id, text: frame.text };
}

/** The broadcast frame, shaped like Parley's `message` event so parsing costs are alike. */
export function messageFrame(seq: number, guest: string, send: SendFrame): string {
	return JSON.stringify({
		type: "message",
		seq,
		msgId: send.id,
		author: { id: `guest:${guest}`, name: guest },
		text: send.text,
		ts: Date.now(),
	});
}

export function healthResponse(): Response {
	return Response.json({ ok: true });
}
