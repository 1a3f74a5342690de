/**
 * @module
 * An honest client that keeps chatting and times every send from the frame leaving to its ack
 * arriving: the figure other users' experience is judged by.
 */
import type { ChatSocket } from "./client.ts";
import { percentile } from "./invariants.ts";
import type { Ledger } from "./ledger.ts";

export interface LatencySample {
	ms: number[];
	failures: string[];
}

/** Sends one message at a time (each after the previous ack) until `stop` or `max`, at most every `gapMs`. */
export async function chat(
	socket: ChatSocket,
	ledger: Ledger,
	who: { room: string; id: string; tag: string },
	options: { max: number; gapMs: number; stop(): boolean },
): Promise<LatencySample> {
	const sample: LatencySample = { ms: [], failures: [] };
	for (let i = 0; i < options.max && !options.stop(); i++) {
		const started = performance.now();
		const message = { room: who.room, authorId: who.id, clientId: `${who.tag}-${i}`, text: `honest ${who.id} ${who.tag}-${i}` };
		ledger.recordSend(message);
		const outcome = await socket.send(message.clientId, message.text);
		if (outcome.kind === "ack") {
			ledger.recordAck(message, outcome.ack);
			sample.ms.push(outcome.ms);
		} else {
			sample.failures.push(
				`${message.clientId}: ${outcome.kind === "error" ? `${outcome.error.code} ${outcome.error.message}` : `${outcome.kind} ${JSON.stringify(socket.closed)}`}`,
			);
			if (outcome.kind === "closed") break;
		}
		const wait = options.gapMs - (performance.now() - started);
		if (wait > 0) await new Promise((r) => setTimeout(r, wait));
	}
	return sample;
}

export function describeLatency(ms: readonly number[]): string {
	return `p50 ${percentile(ms, 0.5).toFixed(1)} ms, p99 ${percentile(ms, 0.99).toFixed(1)} ms (n=${ms.length})`;
}
