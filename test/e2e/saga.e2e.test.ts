/**
 * Cross-posting through the real `wrangler dev` with its local Queue: sagas succeed,
 * converge under injected failures, and finish after the runtime is killed and restarted.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";
import { RecordingSocket } from "../support/ws-client.ts";

interface SagaBody {
	state: string;
	steps: Array<{ room: string; kind: string; state: string }>;
}

const fresh = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
const admin = await mintToken({ sub: "ops", name: "Ops", role: "admin" });

async function sagaState(server: DevServer, origin: string, sagaId: string): Promise<SagaBody> {
	const response = await fetch(`${server.url}/v1/admin/sagas/${encodeURIComponent(sagaId)}`, {
		headers: { Authorization: `Bearer ${admin}` },
	});
	if (!response.ok) throw new Error(`saga ${sagaId} in ${origin}: ${response.status} ${await response.text()}`);
	return (await response.json()) as SagaBody;
}

async function waitForEnd(server: DevServer, origin: string, sagaId: string, timeoutMs = 60_000): Promise<SagaBody> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const body = await sagaState(server, origin, sagaId);
		if (["succeeded", "compensated", "failed"].includes(body.state)) return body;
		if (Date.now() > deadline) throw new Error(`saga ${sagaId} still ${body.state}: ${JSON.stringify(body)}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

async function liveCopies(server: DevServer, room: string, sagaId: string): Promise<number> {
	const response = await fetch(`${server.url}/v1/rooms/${room}/events?limit=500`, { headers: { Authorization: `Bearer ${admin}` } });
	const page = (await response.json()) as { events: Array<{ type: string; from?: { sagaId: string }; retractedBy?: number }> };
	return page.events.filter((e) => e.type === "message" && e.from?.sagaId === sagaId && e.retractedBy === undefined).length;
}

describe("cross-posting under wrangler dev", () => {
	let server: DevServer;
	beforeAll(async () => {
		server = await startDevServer({ vars: { FAULTS: "on", OUTBOX_BASE_DELAY_MS: "100" } });
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("delivers a cross-post to two rooms and tells the author", async ({ expect }) => {
		const [a, b, c] = [fresh("a"), fresh("b"), fresh("c")];
		const watcher = await RecordingSocket.open(`${server.wsUrl}/v1/rooms/${b}/ws?guest=watcher`);
		await watcher.frame("synced");
		const author = await RecordingSocket.open(`${server.wsUrl}/v1/rooms/${a}/ws?guest=ann`);
		await author.frame("synced");
		author.send({ type: "send", id: "x", text: "to everyone", crossPost: [b, c] });
		const ack = await author.frame("ack");
		const frame = await author.frame("saga", () => true, 30_000);
		expect(frame).toMatchObject({ sagaId: ack.sagaId, state: "succeeded" });
		const copy = await watcher.frame("message");
		expect(copy).toMatchObject({ text: "to everyone", from: { room: a, msgId: ack.msgId, sagaId: ack.sagaId } });
		expect(await liveCopies(server, c, ack.sagaId ?? "")).toBe(1);
		author.close();
		watcher.close();
	});

	it("converges with injected transient failures: one copy per target or none", async ({ expect }) => {
		const [a, b, c] = [fresh("a"), fresh("b"), fresh("c")];
		const faults = await fetch(`${server.url}/v1/admin/faults`, {
			method: "POST",
			headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
			body: JSON.stringify({ deliverFailRate: 0.4, retractFailRate: 0.4, rooms: [b, c] }),
		});
		expect(faults.status).toBe(200);
		const token = await mintToken({ sub: "ann", name: "Ann" });
		const sagaIds: string[] = [];
		for (let i = 0; i < 6; i++) {
			const response = await fetch(`${server.url}/v1/rooms/${a}/messages`, {
				method: "POST",
				headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
				body: JSON.stringify({ id: `f${i}`, text: `faulty ${i}`, crossPost: [b, c] }),
			});
			sagaIds.push(((await response.json()) as { sagaId: string }).sagaId);
		}
		for (const sagaId of sagaIds) {
			const end = await waitForEnd(server, a, sagaId);
			expect(["succeeded", "compensated"]).toContain(end.state);
			for (const room of [b, c]) expect(await liveCopies(server, room, sagaId)).toBe(end.state === "succeeded" ? 1 : 0);
		}
		await fetch(`${server.url}/v1/admin/faults`, { method: "POST", headers: { Authorization: `Bearer ${admin}` }, body: "{}" });
	});
});

async function setFaults(server: DevServer, body: object): Promise<void> {
	const response = await fetch(`${server.url}/v1/admin/faults`, {
		method: "POST",
		headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});
	if (response.status !== 200) throw new Error(`faults: ${response.status}`);
}

describe("a killed runtime", () => {
	it("finishes every saga after a restart on the same state", async ({ expect }) => {
		const vars = { FAULTS: "on", OUTBOX_BASE_DELAY_MS: "100" };
		const first = await startDevServer({ vars });
		let second: DevServer | undefined;
		try {
			const [a, b, c] = [fresh("a"), fresh("b"), fresh("c")];
			// Targets fail for now, so every saga is mid-flight when the runtime dies.
			await setFaults(first, { deliverFailRate: 1, rooms: [b, c] });
			const token = await mintToken({ sub: "ann", name: "Ann" });
			const sagaIds = await Promise.all(
				Array.from({ length: 8 }, async (_, i) => {
					const response = await fetch(`${first.url}/v1/rooms/${a}/messages`, {
						method: "POST",
						headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
						body: JSON.stringify({ id: `k${i}`, text: `kill ${i}`, crossPost: [b, c] }),
					});
					return ((await response.json()) as { sagaId: string }).sagaId;
				}),
			);
			await new Promise((r) => setTimeout(r, 300));
			const before = await Promise.all(sagaIds.map((id) => sagaState(first, a, id)));
			expect(before.every((saga) => saga.state === "running")).toBe(true);
			await first.kill();

			second = await startDevServer({ persistTo: first.persistTo, vars });
			await setFaults(second, {});
			for (const sagaId of sagaIds) {
				const end = await waitForEnd(second, a, sagaId, 60_000);
				expect(end.state).toBe("succeeded");
				for (const room of [b, c]) expect(await liveCopies(second, room, sagaId)).toBe(1);
			}
		} finally {
			await second?.stop();
			await first.stop().catch(() => undefined);
		}
	}, 120_000);
});
