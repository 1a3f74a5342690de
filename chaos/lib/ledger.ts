/**
 * @module
 * What the clients of a scenario sent and were acked, and the sagas their cross-posts
 * started: the "client side of the truth" the invariant checkers hold the server to.
 */
import type { AckFrame } from "../../src/protocol.ts";
import type { SagaBody } from "./http.ts";
import type { AckRecord, SagaOutcome, SentMessage } from "./invariants.ts";

export class Ledger {
	readonly sent: SentMessage[] = [];
	readonly acks: AckRecord[] = [];
	/** Saga id → the cross-post that started it. */
	readonly sagas = new Map<string, { originRoom: string; msgId: string; targets: string[]; deleted: boolean }>();
	private readonly ackedKeys = new Set<string>();

	private static key(room: string, authorId: string, clientId: string): string {
		return `${room}\u0000${authorId}\u0000${clientId}`;
	}

	recordSend(message: SentMessage): void {
		this.sent.push(message);
	}

	recordAck(message: SentMessage, ack: AckFrame): void {
		this.acks.push({
			room: message.room,
			authorId: message.authorId,
			clientId: message.clientId,
			seq: ack.seq,
			msgId: ack.msgId,
			duplicate: ack.duplicate,
			...(ack.sagaId === undefined ? {} : { sagaId: ack.sagaId }),
		});
		this.ackedKeys.add(Ledger.key(message.room, message.authorId, message.clientId));
		if (ack.sagaId !== undefined && !this.sagas.has(ack.sagaId)) {
			this.sagas.set(ack.sagaId, { originRoom: message.room, msgId: ack.msgId, targets: message.crossPost ?? [], deleted: false });
		}
	}

	isAcked(message: SentMessage): boolean {
		return this.ackedKeys.has(Ledger.key(message.room, message.authorId, message.clientId));
	}

	firstAck(message: SentMessage): AckRecord | undefined {
		return this.acks.find((a) => a.room === message.room && a.authorId === message.authorId && a.clientId === message.clientId);
	}

	markDeleted(sagaId: string): void {
		const saga = this.sagas.get(sagaId);
		if (saga !== undefined) saga.deleted = true;
	}

	/** The sagas' end states as the checkers take them, from the admin API's answers. */
	outcomes(ends: ReadonlyMap<string, SagaBody>): SagaOutcome[] {
		return [...this.sagas].map(([sagaId, saga]) => ({
			sagaId,
			originRoom: saga.originRoom,
			msgId: saga.msgId,
			targets: saga.targets,
			deleted: saga.deleted,
			// A saga the admin API never answered for is reported as still running.
			state: ends.get(sagaId)?.state ?? "running",
		}));
	}

	/** Task attempts beyond the first: each one is a failure (injected, or from a crash) that was retried. */
	static retries(ends: ReadonlyMap<string, SagaBody>): number {
		let retries = 0;
		for (const saga of ends.values()) for (const step of saga.steps) retries += Math.max(0, step.attempts - 1);
		return retries;
	}
}
