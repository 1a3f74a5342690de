/**
 * Crash and restart: SIGKILL the whole local runtime (wrangler and workerd) in the middle of
 * a load of messages and cross-posts from many sockets, restart it on the same state, and
 * have every client resend what it had not seen acked (plus a few it had, as a client that
 * lost its acks would) with the same ids. Nothing acked may be lost, moved or doubled, and
 * every saga caught mid-flight must still end succeeded or compensated.
 */
import { ChatSocket } from "../lib/client.ts";
import { setFaults } from "../lib/http.ts";
import type { SentMessage } from "../lib/invariants.ts";
import { Ledger } from "../lib/ledger.ts";
import { pump, resend } from "../lib/pump.ts";
import type { ChaosServer } from "../lib/server.ts";
import { adminToken, userToken } from "../lib/tokens.ts";
import { fresh, type Scenario, type ScenarioContext, sleep } from "../lib/types.ts";
import { audit } from "../lib/verify.ts";

interface Author {
	id: string;
	token: string;
	room: string;
	socket?: ChatSocket;
}

const VARS = { FAULTS: "on", OUTBOX_BASE_DELAY_MS: "100" };

async function connect(server: ChaosServer, author: Author): Promise<ChatSocket> {
	author.socket = await ChatSocket.join(`${server.wsUrl}/v1/rooms/${author.room}/ws?token=${author.token}&since=0`);
	return author.socket;
}

export const crashRestart: Scenario = {
	name: "crash-restart",
	summary: "SIGKILL wrangler+workerd mid-load, restart on the same state, clients resend with the same ids",
	async run(ctx: ScenarioContext): Promise<void> {
		const { rec, quick } = ctx;
		const admin = await adminToken();
		const rooms = Array.from({ length: quick ? 3 : 4 }, (_, i) => fresh(`crash${i}`));
		const authors: Author[] = await Promise.all(
			Array.from({ length: quick ? 4 : 8 }, async (_, i) => {
				const id = `crasher${i}`;
				return { id, token: await userToken(id), room: rooms[i % rooms.length] ?? "" };
			}),
		);
		const cycles = quick ? 1 : 2;
		const ackTarget = quick ? 40 : 150;
		const ledger = new Ledger();
		let server = await ctx.launch({ vars: VARS });
		try {
			// Deliveries fail often, so at the kill many sagas are mid-flight with retries scheduled.
			await setFaults(server.url, admin, { deliverFailRate: 0.3, rooms });
			for (const author of authors) await connect(server, author);
			for (let cycle = 0; cycle < cycles; cycle++) {
				const ackedBefore = ledger.acks.length;
				const stop = false;
				const pumps = authors.map(async (author) => {
					const socket = author.socket;
					if (socket === undefined) return 0;
					return await pump(socket, ledger, {
						window: 6,
						max: 400,
						stop: () => stop,
						next: (i): SentMessage => {
							const others = rooms.filter((r) => r !== author.room);
							// About a third of the sends cross-post to one or two other rooms.
							const crossPost = i % 3 === 0 ? others.slice(0, 1 + (i % 2)) : undefined;
							const clientId = `c${cycle}-${i}`;
							return {
								room: author.room,
								authorId: author.id,
								clientId,
								text: `crash ${author.id} ${clientId}`,
								...(crossPost === undefined ? {} : { crossPost }),
							};
						},
					});
				});
				const deadline = Date.now() + 20_000;
				while (ledger.acks.length - ackedBefore < ackTarget && Date.now() < deadline) await sleep(20);
				// The kill lands while every pump still has sends in flight.
				await server.kill();
				rec.fault();
				const sentCount = (await Promise.all(pumps)).reduce((a, b) => a + b, 0);
				rec.op(sentCount);
				const unacked = ledger.sent.filter((m) => !ledger.isAcked(m)).length;
				ctx.log(`cycle ${cycle + 1}: killed after ${ledger.acks.length - ackedBefore} acks, ${unacked} sends unacked; restarting`);

				server = await ctx.launch({ vars: VARS, persistTo: server.persistTo });
				for (const author of authors) {
					const socket = await connect(server, author);
					const mine = ledger.sent.filter((m) => m.authorId === author.id);
					const acked = mine.filter((m) => ledger.isAcked(m));
					// Everything unacked, and the last three acked: a client that lost acks resends those too.
					const again = [...acked.slice(-3), ...mine.filter((m) => !ledger.isAcked(m))];
					const before = new Map(again.map((m) => [m.clientId, ledger.firstAck(m)]));
					const acksBefore = ledger.acks.length;
					const failed = await resend(socket, ledger, again, 8);
					rec.op(again.length);
					for (const f of failed)
						rec.check(false, `${author.room}: resend of ${f.message.clientId} by ${author.id} after restart got ${f.outcome}`);
					for (const ack of ledger.acks.slice(acksBefore)) {
						const first = before.get(ack.clientId);
						if (first !== undefined)
							rec.check(
								ack.duplicate && ack.seq === first.seq && ack.msgId === first.msgId,
								`${author.room}: resend of acked ${ack.clientId} got ${JSON.stringify(ack)}, expected duplicate of seq ${first.seq}`,
							);
					}
				}
			}
			// The outage ends: retries now succeed, and everything must settle.
			await setFaults(server.url, admin, {});
			const { retries } = await audit(rec, server, ledger, { rooms, adminToken: admin, settleMs: 60_000 });
			rec.fault(retries);
		} finally {
			for (const author of authors) author.socket?.close();
			await server.stop();
		}
	},
};
