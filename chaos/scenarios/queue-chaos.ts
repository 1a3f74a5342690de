/**
 * Queue chaos: target rooms fail 40% of deliveries and 40% of retracts (transient errors, so
 * the outbox retries with backoff and the queue redelivers), while authors in several origin
 * rooms cross-post under load, chat goes on in the target rooms, and a quarter of the
 * cross-posted originals are deleted while their deliveries are still racing (compensation
 * with reason `deleted`). Every saga must end with one live copy per target or none, copies
 * must keep their origin's order in each target, and deleted originals must end compensated.
 */
import { ChatSocket } from "../lib/client.ts";
import { api, setFaults } from "../lib/http.ts";
import type { SentMessage } from "../lib/invariants.ts";
import { Ledger } from "../lib/ledger.ts";
import { FAULTY } from "../lib/profiles.ts";
import { pump } from "../lib/pump.ts";
import { adminToken, userToken } from "../lib/tokens.ts";
import { fresh, type Scenario, type ScenarioContext, sleep } from "../lib/types.ts";
import { audit } from "../lib/verify.ts";

export const queueChaos: Scenario = {
	name: "queue-chaos",
	summary: "40% injected deliver/retract failures at targets, cross-posts under load, deletes racing deliveries",
	profile: FAULTY,
	async run(ctx: ScenarioContext): Promise<void> {
		const { rec, quick } = ctx;
		const server = await ctx.server();
		const admin = await adminToken();
		const origins = Array.from({ length: quick ? 2 : 3 }, (_, i) => fresh(`qorigin${i}`));
		const targets = Array.from({ length: 3 }, (_, i) => fresh(`qtarget${i}`));
		const perAuthor = quick ? 12 : 40;
		await setFaults(server.url, admin, { deliverFailRate: 0.4, retractFailRate: 0.4, rooms: targets });
		const ledger = new Ledger();
		const sockets: ChatSocket[] = [];
		const deletes: Array<Promise<void>> = [];
		let deleted = 0;
		try {
			const authors = [
				...origins.flatMap((room, i) => [0, 1].map((j) => ({ id: `qauthor${i}${j}`, room }))),
				...targets.map((room, i) => ({ id: `qlocal${i}`, room })),
			];
			const pumps = authors.map(async (author, a) => {
				const socket = await ChatSocket.join(
					`${server.wsUrl}/v1/rooms/${author.room}/ws?token=${await userToken(author.id)}&since=0`,
				);
				sockets.push(socket);
				const isOrigin = origins.includes(author.room);
				return await pump(socket, ledger, {
					window: 4,
					max: perAuthor,
					stop: () => false,
					next: (i): SentMessage => {
						// Origin authors cross-post to 1..3 targets; local authors just chat in the targets.
						const crossPost = isOrigin && i % 4 !== 3 ? targets.slice(0, 1 + ((i + a) % 3)) : undefined;
						return {
							room: author.room,
							authorId: author.id,
							clientId: `q${i}`,
							text: `queue ${author.id} q${i}`,
							...(crossPost === undefined ? {} : { crossPost }),
						};
					},
					onAck: (message) => {
						const ack = ledger.firstAck(message);
						// Every fourth cross-post is deleted by its author after 0..400 ms: racing its deliveries.
						if (ack?.sagaId === undefined || Number(message.clientId.slice(1)) % 4 !== 1) return;
						const { sagaId, msgId } = ack;
						deletes.push(
							(async () => {
								await sleep(Math.floor(Math.random() * 400));
								ledger.markDeleted(sagaId);
								const response = await api(server.url, `/v1/rooms/${message.room}/messages/${msgId}`, {
									method: "DELETE",
									token: await userToken(message.authorId),
								});
								rec.op();
								rec.check(response.status === 200, `DELETE ${message.room}/${msgId}: ${response.status} ${response.text}`);
								deleted++;
							})(),
						);
					},
				});
			});
			rec.op((await Promise.all(pumps)).reduce((a, b) => a + b, 0));
			await Promise.all(deletes);
			ctx.log(`${ledger.acks.length} sends acked, ${ledger.sagas.size} sagas, ${deleted} originals deleted mid-flight; settling`);
			// Keep the faults on while settling: retries must win through them, not after them.
			const { retries } = await audit(rec, server, ledger, {
				rooms: [...origins, ...targets],
				adminToken: admin,
				settleMs: quick ? 45_000 : 90_000,
			});
			rec.fault(retries + deleted);
			rec.figure("injected task failures retried", String(retries));
		} finally {
			await setFaults(server.url, admin, {}).catch(() => undefined);
			for (const socket of sockets) socket.close();
		}
	},
};
