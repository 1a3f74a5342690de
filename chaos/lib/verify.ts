/**
 * @module
 * The end-of-scenario audit shared by the scenarios that write: wait for every saga to end
 * and every task to drain (bounded), read every room's whole history over HTTP, and hold it
 * to the ledger with the pure checkers.
 */
import { drainTasks, histories, settleSagas } from "./http.ts";
import { checkAcked, checkAllAcked, checkCopyOrder, checkSagas, checkSeqs } from "./invariants.ts";
import { Ledger } from "./ledger.ts";
import type { ChaosServer } from "./server.ts";
import type { Recorder } from "./types.ts";

export interface AuditOptions {
	rooms: readonly string[];
	adminToken: string;
	settleMs: number;
}

export async function audit(rec: Recorder, server: ChaosServer, ledger: Ledger, options: AuditOptions): Promise<{ retries: number }> {
	const { rooms, adminToken } = options;
	const ends = await settleSagas(server.url, adminToken, [...ledger.sagas.keys()], options.settleMs);
	// Once every saga is at its end, nothing may be left to do: no task pending or processing
	// (a task left pending without an alarm to run it would stay listed here forever).
	const live = await drainTasks(server.url, adminToken, Math.min(30_000, options.settleMs));
	rec.check(live.length === 0, `${live.length} tasks still live after settling: ${JSON.stringify(live.slice(0, 5))}`);

	const { events, lastSeq } = await histories(server.url, rooms, adminToken);
	for (const room of rooms) {
		const list = events.get(room) ?? [];
		rec.checked(list.length, checkSeqs(room, list, lastSeq.get(room) ?? 0));
	}
	rec.checked(ledger.acks.length, checkAcked(events, ledger.sent, ledger.acks));
	rec.checked(ledger.sent.length, checkAllAcked(ledger.sent, ledger.acks));
	const outcomes = ledger.outcomes(ends);
	rec.checked(
		outcomes.reduce((n, s) => n + s.targets.length + 1, 0),
		checkSagas(events, outcomes),
	);
	rec.checked(
		[...events.values()].reduce((n, list) => n + list.filter((e) => e.type === "message" && e.from !== undefined).length, 0),
		checkCopyOrder(events),
	);
	const states = new Map<string, number>();
	for (const saga of outcomes) states.set(saga.state, (states.get(saga.state) ?? 0) + 1);
	rec.figure("sagas", [...states].map(([state, n]) => `${n} ${state}`).join(", ") || "none");
	rec.figure("events audited", String([...events.values()].reduce((n, list) => n + list.length, 0)));
	return { retries: Ledger.retries(ends) };
}
