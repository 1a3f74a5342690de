/**
 * Hostile input: many sockets send thousands of malformed, oversized, deeply nested, binary,
 * wrong-typed and prototype-polluting frames, and bad requests hit every HTTP route, while an
 * honest client keeps chatting in the same room. Every bad frame must get an error frame or
 * a close code (1008 after 50 refusals, 1009 when over MAX_FRAME_BYTES); no event may come
 * from an invalid frame; the server stays healthy; the honest client's p99 latency holds.
 */
import { ChatSocket } from "../lib/client.ts";
import { api, histories } from "../lib/http.ts";
import { type HostileFrame, hostileFrames, hostileRequests, oversizedFrames } from "../lib/hostile.ts";
import { checkAcked, checkEmpty, checkErrorResponse, checkSeqs, percentile } from "../lib/invariants.ts";
import { chat, describeLatency } from "../lib/latency.ts";
import { Ledger } from "../lib/ledger.ts";
import { FAULTY } from "../lib/profiles.ts";
import type { ChaosServer } from "../lib/server.ts";
import { adminToken, userToken } from "../lib/tokens.ts";
import { fresh, type Recorder, type Scenario, type ScenarioContext } from "../lib/types.ts";

/** Refusals the server allows a socket before it closes it with 1008. */
const ABUSE_LIMIT = 50;
const ERROR_CODES = new Set(["bad_request", "too_large", "not_found", "forbidden"]);

type SessionKind = "polite" | "persistent" | "oversized";

/** Error frames that a later frame's close overtook (see `session`). */
const lostToClose = { count: 0 };

/** One hostile socket: sends its frames, then checks every one was answered as the contract says. */
async function session(
	rec: Recorder,
	server: ChaosServer,
	room: string,
	token: string,
	kind: SessionKind,
	frames: readonly HostileFrame[],
	big: HostileFrame,
): Promise<void> {
	const socket = await ChatSocket.join(`${server.wsUrl}/v1/rooms/${room}/ws?token=${token}`);
	const count = kind === "polite" ? 40 : kind === "persistent" ? ABUSE_LIMIT + 20 : 5;
	const offset = Math.floor(Math.random() * frames.length);
	const sent: HostileFrame[] = [];
	for (let i = 0; i < count; i++) {
		const frame = frames[(offset + i) % frames.length];
		if (frame !== undefined && socket.raw(frame.data)) sent.push(frame);
	}
	if (kind === "oversized") socket.raw(big.data);
	rec.op(sent.length + (kind === "oversized" ? 1 : 0));
	const errors = (): number => socket.ofType("error").length;
	const label = `${kind} session in ${room}`;
	if (kind === "polite") {
		const answered = await socket.until(() => errors() >= sent.length || socket.closed !== undefined, 15_000);
		rec.check(
			answered && errors() === sent.length && socket.closed === undefined,
			`${label}: ${sent.length} bad frames, ${errors()} error frames, closed ${JSON.stringify(socket.closed)}`,
		);
	} else {
		const closed = await socket.until(() => socket.closed !== undefined, 15_000);
		const code = kind === "persistent" ? 1008 : 1009;
		const expectedErrors = kind === "persistent" ? ABUSE_LIMIT : sent.length;
		rec.check(
			closed && socket.closed?.code === code,
			`${label}: expected close ${code} (${big.label}), got ${JSON.stringify(socket.closed)}`,
		);
		// Every frame is answered by an error frame or by the close; never more errors than the
		// abuse limit allows. (An answer may be lost to the close: the room handles a frame while
		// an earlier one is still awaiting, so the later frame's close can overtake the earlier
		// frame's error; counted, and reported as a finding, not a violation.)
		rec.check(
			errors() <= expectedErrors,
			`${label}: ${sent.length} bad frames before the close, ${errors()} error frames, at most ${expectedErrors} allowed`,
		);
		lostToClose.count += expectedErrors - Math.min(errors(), expectedErrors);
	}
	for (const error of socket.ofType("error")) {
		rec.check(
			ERROR_CODES.has(error.code) && typeof error.message === "string",
			`${label}: malformed error frame ${JSON.stringify(error)}`,
		);
	}
	// An invalid frame must never be acked.
	rec.check(socket.ofType("ack").length === 0, `${label}: got ${socket.ofType("ack").length} acks for invalid frames`);
	socket.close();
}

async function probeHttp(rec: Recorder, server: ChaosServer, room: string, tokens: { prober: string; admin: string }): Promise<void> {
	for (const probe of hostileRequests(room)) {
		const response = await api(server.url, probe.path, {
			method: probe.method,
			token: tokens[probe.as],
			...(probe.body === undefined ? {} : { body: probe.body }),
		});
		rec.op();
		rec.checked(
			1,
			checkErrorResponse(`${probe.method} ${probe.path.slice(0, 60)} (${probe.label})`, response.status, response.body, probe.expect),
		);
		if (probe.label === "policy __proto__") {
			rec.check(
				(response.body as { readOnly?: unknown }).readOnly === false,
				`policy __proto__ patch changed the policy: ${response.text}`,
			);
		}
	}
}

export const hostileInput: Scenario = {
	name: "hostile-input",
	summary: "thousands of malformed/oversized/nested/binary/polluting frames and bad HTTP requests beside an honest client",
	profile: FAULTY,
	async run(ctx: ScenarioContext): Promise<void> {
		const { rec, quick } = ctx;
		const server = await ctx.server();
		const admin = await adminToken();
		const honestRoom = fresh("hostile-honest");
		const hostileRooms = [fresh("hostile-a"), fresh("hostile-b")];
		const ledger = new Ledger();
		lostToClose.count = 0;
		const honest = await ChatSocket.join(`${server.wsUrl}/v1/rooms/${honestRoom}/ws?token=${await userToken("honest")}&since=0`);
		const who = { room: honestRoom, id: "honest" };
		try {
			// The unloaded baseline first, in the same room, on the same server.
			const baseline = await chat(honest, ledger, { ...who, tag: "base" }, { max: quick ? 60 : 150, gapMs: 20, stop: () => false });

			let done = false;
			const loaded = chat(honest, ledger, { ...who, tag: "load" }, { max: 5000, gapMs: 20, stop: () => done });
			const sessions = quick ? 16 : 64;
			const concurrency = quick ? 4 : 8;
			const kinds: SessionKind[] = ["polite", "polite", "persistent", "oversized"];
			const oversized = oversizedFrames();
			let next = 0;
			const workers = Array.from({ length: concurrency }, async (_, w) => {
				const token = await userToken(`mallory${w}`);
				for (let i = next++; i < sessions; i = next++) {
					const room = i % 2 === 0 ? honestRoom : (hostileRooms[i % hostileRooms.length] ?? honestRoom);
					const frames = hostileFrames(room);
					await session(
						rec,
						server,
						room,
						token,
						kinds[i % kinds.length] ?? "polite",
						frames,
						oversized[i % oversized.length] ?? (oversized[0] as HostileFrame),
					);
				}
			});
			const prober = await userToken("prober");
			const probes = (async () => {
				for (let round = 0; round < (quick ? 1 : 3); round++) await probeHttp(rec, server, honestRoom, { prober, admin });
			})();
			await Promise.all([...workers, probes]);
			done = true;
			const underLoad = await loaded;
			rec.fault(rec.operations);

			const health = await api(server.url, "/health");
			rec.check(
				health.status === 200 && (health.body as { ok?: unknown }).ok === true,
				`/health after the abuse: ${health.status} ${health.text}`,
			);
			for (const failure of [...baseline.failures, ...underLoad.failures]) rec.check(false, `honest client: ${failure}`);
			rec.op(baseline.ms.length + underLoad.ms.length);

			// History holds the honest client's messages and nothing else; hostile-only rooms hold nothing.
			const { events, lastSeq } = await histories(server.url, [honestRoom, ...hostileRooms], admin);
			rec.checked(ledger.acks.length, checkAcked(new Map([[honestRoom, events.get(honestRoom) ?? []]]), ledger.sent, ledger.acks));
			rec.checked(1, checkSeqs(honestRoom, events.get(honestRoom) ?? [], lastSeq.get(honestRoom) ?? 0));
			for (const room of hostileRooms) rec.checked(1, checkEmpty(room, events.get(room) ?? [], lastSeq.get(room) ?? 0));

			// The honest client's p99 may grow under abuse, within a bound: 10x its unloaded p99,
			// with a 250 ms floor. Loose on purpose: on a 2-core box the load generator, the
			// honest client and workerd share the CPU, and the abusers write to the honest room
			// itself. A parser that stalled (deep nesting, huge frames) would blow through it.
			const base99 = percentile(baseline.ms, 0.99);
			const load99 = percentile(underLoad.ms, 0.99);
			const bound = Math.max(Math.max(10 * base99, 250) * ctx.latencyTolerance, ctx.latencyFloorMs);
			rec.check(
				load99 <= bound,
				`honest p99 under abuse ${load99.toFixed(1)} ms exceeds the bound ${bound.toFixed(1)} ms (unloaded p99 ${base99.toFixed(1)} ms)`,
			);
			rec.figure("error frames overtaken by a close", String(lostToClose.count));
			rec.figure("honest unloaded", describeLatency(baseline.ms));
			rec.figure("honest under abuse", `${describeLatency(underLoad.ms)}, bound ${bound.toFixed(0)} ms`);
		} finally {
			honest.close();
		}
	},
};
