/**
 * Crash during direct first attempts: origin rooms attempt each new cross-post's deliveries
 * themselves right after the commit, under the lease the alarm would take. SIGKILL the whole
 * local runtime while bursts of cross-posts have just been acked and their copies are still
 * on their way, restart it on the same state, and have every client resend what it had not
 * seen acked. Every acked cross-post must still end succeeded with exactly one copy in each
 * target room, in origin order: an attempt cut off by the kill left its task leased, and the
 * alarm re-claims it once the lease has run out (the barrier makes a copy already made a
 * repeat).
 */
import { ChatSocket } from "../lib/client.ts";
import type { SentMessage } from "../lib/invariants.ts";
import { Ledger } from "../lib/ledger.ts";
import { pump, resend } from "../lib/pump.ts";
import type { ChaosServer } from "../lib/server.ts";
import { adminToken, userToken } from "../lib/tokens.ts";
import { fresh, type Scenario, type ScenarioContext, sleep } from "../lib/types.ts";
import { audit } from "../lib/verify.ts";

/** No injected faults: every first attempt would succeed, so the kill is what interrupts them. */
const VARS = { FAULTS: "off", OUTBOX_BASE_DELAY_MS: "100" };

interface Author {
	id: string;
	token: string;
	room: string;
	targets: string[];
	socket?: ChatSocket;
}

async function connect(server: ChaosServer, author: Author): Promise<ChatSocket> {
	author.socket = await ChatSocket.join(`${server.wsUrl}/v1/rooms/${author.room}/ws?token=${author.token}&since=0`);
	return author.socket;
}

/** Copies of each acked cross-post seen so far, by saga id, from sockets in the target rooms. */
function copiesSeen(watchers: readonly ChatSocket[]): Map<string, number> {
	const seen = new Map<string, number>();
	for (const watcher of watchers) {
		for (const frame of watcher.ofType("message")) {
			const sagaId = frame.from?.sagaId;
			if (sagaId !== undefined) seen.set(sagaId, (seen.get(sagaId) ?? 0) + 1);
		}
	}
	return seen;
}

export const directCrash: Scenario = {
	name: "direct-crash",
	summary: "SIGKILL wrangler+workerd while origins' direct first attempts are in flight; leased tasks are re-claimed, one copy each",
	async run(ctx: ScenarioContext): Promise<void> {
		const { rec, quick } = ctx;
		const admin = await adminToken();
		const targets = Array.from({ length: 3 }, (_, i) => fresh(`direct-t${i}`));
		const authors: Author[] = await Promise.all(
			Array.from({ length: quick ? 3 : 6 }, async (_, i) => {
				const id = `direct${i}`;
				return { id, token: await userToken(id), room: fresh(`direct-o${i}`), targets };
			}),
		);
		const rooms = [...authors.map((a) => a.room), ...targets];
		const cycles = quick ? 1 : 3;
		const ledger = new Ledger();
		const watcherToken = await userToken("direct-watcher");
		let server = await ctx.launch({ vars: VARS });
		let watchers: ChatSocket[] = [];
		const watch = async (): Promise<void> => {
			watchers = await Promise.all(
				targets.map(async (room) => await ChatSocket.join(`${server.wsUrl}/v1/rooms/${room}/ws?token=${watcherToken}&since=0`)),
			);
		};
		try {
			for (const author of authors) await connect(server, author);
			await watch();
			for (let cycle = 0; cycle < cycles; cycle++) {
				const ackedBefore = ledger.acks.length;
				let stop = false;
				const pumps = authors.map(async (author) => {
					const socket = author.socket;
					if (socket === undefined) return 0;
					return await pump(socket, ledger, {
						window: 8,
						max: 300,
						stop: () => stop,
						next: (i): SentMessage => {
							const clientId = `d${cycle}-${i}`;
							return {
								room: author.room,
								authorId: author.id,
								clientId,
								text: `direct ${author.id} ${clientId}`,
								crossPost: author.targets,
							};
						},
					});
				});
				// Let the load run a moment, then kill at a moment when an acked cross-post's copies are
				// still on their way (direct attempts are quick: on an idle machine such moments are brief).
				const deadline = Date.now() + 20_000;
				const enough = quick ? 30 : 60;
				const missingCopies = (): number => {
					const acked = new Set(ledger.acks.filter((a) => a.sagaId !== undefined).map((a) => a.sagaId ?? ""));
					const seen = copiesSeen(watchers);
					return [...acked].filter((sagaId) => (seen.get(sagaId) ?? 0) < targets.length).length;
				};
				let inFlight = 0;
				while (Date.now() < deadline) {
					if (ledger.acks.length - ackedBefore >= enough) {
						inFlight = missingCopies();
						if (inFlight > 0) break;
					}
					await sleep(1);
				}
				await server.kill();
				stop = true;
				rec.fault();
				const sentCount = (await Promise.all(pumps)).reduce((a, b) => a + b, 0);
				rec.op(sentCount);
				for (const watcher of watchers) watcher.close();
				ctx.log(`cycle ${cycle + 1}: killed with ${inFlight} acked cross-posts still missing copies; restarting`);
				rec.figure(`cycle ${cycle + 1}`, `${inFlight} acked cross-posts with copies in flight at the kill`);
				// The kill must have caught first attempts in flight, or this scenario tested nothing.
				rec.check(inFlight > 0, `cycle ${cycle + 1}: no acked cross-post had copies in flight when the runtime was killed`);

				server = await ctx.launch({ vars: VARS, persistTo: server.persistTo });
				for (const author of authors) {
					const socket = await connect(server, author);
					const again = ledger.sent.filter((m) => m.authorId === author.id && !ledger.isAcked(m));
					const failed = await resend(socket, ledger, again, 8);
					rec.op(again.length);
					for (const f of failed)
						rec.check(false, `${author.room}: resend of ${f.message.clientId} by ${author.id} after restart got ${f.outcome}`);
				}
				await watch();
			}
			const { retries } = await audit(rec, server, ledger, { rooms, adminToken: admin, settleMs: 60_000 });
			rec.figure("re-claimed attempts", String(retries));
			rec.fault(retries);
		} finally {
			for (const author of authors) author.socket?.close();
			for (const watcher of watchers) watcher.close();
			await server.stop();
		}
	},
};
