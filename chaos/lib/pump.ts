/**
 * @module
 * A client that keeps sending: a window of sends in flight on one socket, each recorded in
 * the ledger before it leaves (so a send that was committed but never acked is still known)
 * and its ack recorded when it comes back. Stops on a flag, a count, or a closed socket.
 */
import type { ChatSocket } from "./client.ts";
import type { SentMessage } from "./invariants.ts";
import type { Ledger } from "./ledger.ts";

export interface PumpOptions {
	/** Sends in flight at once: more in flight means more unacked sends when the runtime dies. */
	window: number;
	max: number;
	stop(): boolean;
	next(i: number): SentMessage;
	onAck?(message: SentMessage): void;
}

export async function pump(socket: ChatSocket, ledger: Ledger, options: PumpOptions): Promise<number> {
	const inFlight = new Set<Promise<void>>();
	let i = 0;
	for (; i < options.max && !options.stop() && socket.isOpen; i++) {
		const message = options.next(i);
		ledger.recordSend(message);
		const sending = socket.send(message.clientId, message.text, message.crossPost).then((outcome) => {
			if (outcome.kind === "ack") {
				ledger.recordAck(message, outcome.ack);
				options.onAck?.(message);
			}
		});
		const tracked = sending.finally(() => inFlight.delete(tracked));
		inFlight.add(tracked);
		if (inFlight.size >= options.window) await Promise.race(inFlight);
	}
	await Promise.allSettled([...inFlight]);
	return i;
}

/**
 * Resends messages with their original ids until each is acked (a reconnecting client's
 * duty); returns those that still got no ack, with the last outcome seen.
 */
export async function resend(
	socket: ChatSocket,
	ledger: Ledger,
	messages: readonly SentMessage[],
	window: number,
): Promise<Array<{ message: SentMessage; outcome: string }>> {
	const failed: Array<{ message: SentMessage; outcome: string }> = [];
	for (let start = 0; start < messages.length; start += window) {
		const batch = messages.slice(start, start + window);
		const outcomes = await Promise.all(batch.map(async (m) => ({ m, outcome: await socket.send(m.clientId, m.text, m.crossPost) })));
		for (const { m, outcome } of outcomes) {
			if (outcome.kind === "ack") ledger.recordAck(m, outcome.ack);
			else
				failed.push({
					message: m,
					outcome: outcome.kind === "error" ? `error ${outcome.error.code}: ${outcome.error.message}` : outcome.kind,
				});
		}
	}
	return failed;
}
