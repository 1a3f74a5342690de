/**
 * Operations in the operator's own stack, through the real `wrangler dev`: Prometheus scrapes
 * of /v1/admin/metrics (with METRICS_TOKEN) while cross-posts run, the counters moving as
 * they should; alerts and the console's sample alert reaching a receiver on 127.0.0.1 that
 * verifies their Standard Webhooks signature; and the console in Chromium: the search box,
 * "Retry all failed" and the room policy page.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import { verifyWebhook } from "../../src/webhook-signature.ts";
import { apiCaller, until } from "../support/api.ts";
import { browserMissing, launchChromium, watchPage } from "../support/browser.ts";
import { type DevServer, PROJECT_ROOT, startDevServer } from "../support/dev-server.ts";
import { parseExposition, sumOf } from "../support/exposition-parser.ts";

const fresh = (prefix: string): string => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
const admin = await mintToken({ sub: "ops", name: "Ops", role: "admin" });
const author = await mintToken({ sub: "ann", name: "Ann" });
const METRICS_TOKEN = "metrics-e2e-token-0123456789";
const SECRET = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;

interface Received {
	headers: Record<string, string>;
	body: string;
	verified: boolean;
}

let server: DevServer;
let receiver: Server;
const received: Received[] = [];
let browser: Browser | undefined;
const problems: string[] = [];
const call = apiCaller(() => server.url, admin);

beforeAll(async () => {
	// A webhook receiver that checks every delivery the way the docs tell operators to.
	receiver = createServer((request, response) => {
		let body = "";
		request.setEncoding("utf8");
		request.on("data", (chunk: string) => (body += chunk));
		request.on("end", () => {
			const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
			void verifyWebhook(SECRET, headers, body, Math.floor(Date.now() / 1000)).then((result) => {
				received.push({ headers, body, verified: result.ok });
				response.writeHead(result.ok ? 204 : 401).end();
			});
		});
	});
	const port = await new Promise<number>((resolve) => {
		receiver.listen(0, "127.0.0.1", () => {
			const address = receiver.address();
			resolve(typeof address === "object" && address !== null ? address.port : 0);
		});
	});
	mkdirSync("test-output", { recursive: true });
	if (!browserMissing) execFileSync(process.execPath, ["scripts/build-client.mjs"], { cwd: PROJECT_ROOT, stdio: "pipe" });
	[server, browser] = await Promise.all([
		startDevServer({
			vars: {
				FAULTS: "on",
				OUTBOX_BASE_DELAY_MS: "20",
				OUTBOX_MAX_ATTEMPTS: "2",
				METRICS_FLUSH_MS: "200",
				METRICS_TOKEN,
				METRICS_ROOMS: "metrics-lobby",
				ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
				ALERT_WEBHOOK_SECRET: SECRET,
			},
		}),
		browserMissing ? Promise.resolve(undefined) : launchChromium(),
	]);
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
	receiver?.closeAllConnections();
	receiver?.close();
});

async function scrape(format: "prometheus" | "openmetrics" = "prometheus") {
	const response = await fetch(`${server.url}/v1/admin/metrics`, {
		headers: {
			Authorization: `Bearer ${METRICS_TOKEN}`,
			...(format === "openmetrics" ? { Accept: "application/openmetrics-text; version=1.0.0" } : {}),
		},
	});
	expect(response.status, server.output()).toBe(200);
	return parseExposition(await response.text(), format);
}

function post(room: string, body: Record<string, unknown>, token = author) {
	return call<{ sagaId?: string; traceId: string; msgId: string }>(`/v1/rooms/${room}/messages`, {
		method: "POST",
		token,
		body: { id: crypto.randomUUID(), ...body },
	});
}

describe("metrics for Prometheus", () => {
	it("refuses a wrong metrics token and scoped admins; the token reads nothing else", async () => {
		expect((await fetch(`${server.url}/v1/admin/metrics`, { headers: { Authorization: "Bearer wrong" } })).status).toBe(401);
		expect((await fetch(`${server.url}/v1/admin/stats`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(401);
		const scoped = await mintToken({ sub: "mod", name: "Mod", role: "admin", rooms: ["lobby"] });
		expect((await fetch(`${server.url}/v1/admin/metrics`, { headers: { Authorization: `Bearer ${scoped}` } })).status).toBe(403);
		expect((await fetch(`${server.url}/v1/admin/metrics`, { headers: { Authorization: `Bearer ${admin}` } })).status).toBe(200);
	});

	it("moves the counters as a cross-post run goes, scraped while it runs", async () => {
		const before = await scrape();
		const origin = "metrics-lobby";
		const targets = [fresh("mt"), fresh("mt")];
		const CROSS = 6;
		const PLAIN = 4;
		const scrapes: Array<Map<string, unknown>> = [];
		const sagas: string[] = [];
		for (let i = 0; i < CROSS; i++) {
			const sent = await post(origin, { text: `cross ${i}`, crossPost: targets });
			if (sent.sagaId !== undefined) sagas.push(sent.sagaId);
			// Scrapes in the middle of the run parse too (the counters are consistent at any time).
			if (i % 2 === 0) scrapes.push(await scrape(i % 4 === 0 ? "openmetrics" : "prometheus"));
		}
		for (let i = 0; i < PLAIN; i++) await post(fresh("plain"), { text: `plain ${i}` });
		expect(sagas).toHaveLength(CROSS);
		for (const sagaId of sagas)
			await until(`saga ${sagaId}`, async () =>
				(await call<{ state: string }>(`/v1/admin/sagas/${encodeURIComponent(sagaId)}`)).state === "succeeded" ? true : undefined,
			);
		const delta = (
			after: Map<string, import("../support/exposition-parser.ts").ParsedFamily>,
			name: string,
			labels: Record<string, string> = {},
		) => sumOf(after, name, labels) - sumOf(before, name, labels);
		const after = await until(
			"the counters to catch up",
			async () => {
				const families = await scrape();
				const stored = delta(families, "parley_messages_stored_total", { transport: "http" });
				const succeeded = delta(families, "parley_sagas", { state: "succeeded" });
				const attempts = delta(families, "parley_task_attempts_total", { kind: "deliver" });
				return stored >= CROSS + PLAIN && succeeded >= CROSS && attempts >= CROSS * targets.length ? families : undefined;
			},
			30_000,
			300,
		);
		expect(delta(after, "parley_messages_stored_total", { transport: "http" })).toBe(CROSS + PLAIN);
		expect(delta(after, "parley_acks_total", { transport: "http" })).toBe(CROSS + PLAIN);
		expect(delta(after, "parley_room_messages_stored_total", { room: origin })).toBe(CROSS);
		expect(delta(after, "parley_sagas", { state: "succeeded" })).toBe(CROSS);
		expect(delta(after, "parley_task_attempts_total", { kind: "deliver" })).toBe(CROSS * targets.length);
		expect(delta(after, "parley_task_attempt_failures_total")).toBe(0);
		expect(delta(after, "parley_tasks", { state: "succeeded", kind: "deliver" })).toBe(CROSS * targets.length);
		expect(sumOf(after, "parley_alarm_lag_seconds_count")).toBeGreaterThan(0);
		expect(sumOf(after, "parley_outbox_oldest_pending_age_seconds")).toBe(0);
		expect(scrapes.length).toBe(3);
		// The same truth as the console's stats.
		const stats = await call<{ sagas: Record<string, number> }>("/v1/admin/stats");
		expect(sumOf(after, "parley_sagas", { state: "succeeded" })).toBe(stats.sagas.succeeded);
		const history = await call<{ minutes: Array<{ messages: number; attempts: number }> }>("/v1/admin/metrics/history?minutes=10");
		expect(history.minutes.reduce((n, m) => n + m.messages, 0)).toBeGreaterThanOrEqual(CROSS + PLAIN);
	});
});

describe("signed alerts", () => {
	it("deliver a failed task's alert and the sample alert signed, to a receiver that verifies them", async () => {
		const target = fresh("alert");
		await call("/v1/admin/faults", { method: "POST", body: { deliverFailRate: 1, retractFailRate: 1, rooms: [target] } });
		const sent = await post(fresh("origin"), { text: "will fail", crossPost: [target] });
		const alert = await until(
			"the task_failed alert",
			async () => received.find((r) => r.body.includes(`"kind":"task_failed"`) && r.body.includes(sent.traceId)),
			30_000,
		);
		await call("/v1/admin/faults", { method: "POST", body: {} });
		expect(alert.verified).toBe(true);
		expect(alert.headers.traceparent).toMatch(new RegExp(`^00-${sent.traceId}-[0-9a-f]{16}-01$`));
		const test = await call<{ sent: boolean; signed: boolean; webhookId: string }>("/v1/admin/alerts/test", {
			method: "POST",
			body: {},
		});
		expect(test).toMatchObject({ sent: true, signed: true });
		expect(received.find((r) => r.headers["webhook-id"] === test.webhookId)?.verified).toBe(true);
	});
});

async function signIn(page: Page): Promise<void> {
	await page.goto(`${server.url}/console/`);
	await page.locator("#token").fill(admin);
	await page.locator("#signin-submit").click();
	await page.locator("#app").waitFor({ timeout: 10_000 });
}

async function search(page: Page, text: string): Promise<string | null> {
	await page.locator("#search").fill(text);
	await page.locator("#search").press("Enter");
	await expect.poll(async () => await page.locator("#search-form").getAttribute("data-hit"), { timeout: 10_000 }).not.toBe("pending");
	return await page.locator("#search-form").getAttribute("data-hit");
}

describe.skipIf(browserMissing)("the console", () => {
	it("finds a message, saga, task, trace or room from the search box", async () => {
		if (browser === undefined) throw new Error("no browser");
		const origin = fresh("find");
		const target = fresh("find");
		const sent = await post(origin, { text: "find me", crossPost: [target] });
		const sagaId = sent.sagaId ?? "";
		await until("the saga indexed", async () =>
			(await call<{ sagas: Array<{ sagaId: string; state: string }> }>(`/v1/admin/sagas?room=${origin}`)).sagas.some(
				(s) => s.sagaId === sagaId && s.state === "succeeded",
			)
				? true
				: undefined,
		);
		const plain = await post(origin, { text: "a plain one" });
		const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
		watchPage(page, problems);
		await signIn(page);

		expect(await search(page, sent.traceId)).toBe("trace");
		await page.locator("#trace-spans li").first().waitFor({ timeout: 10_000 });
		expect(await search(page, sagaId)).toBe("saga");
		await expect.poll(() => page.locator("#saga-id").textContent(), { timeout: 10_000 }).toBe(sagaId);
		expect(await search(page, `${sagaId}.d.${target}`)).toBe("task");
		await expect
			.poll(
				() =>
					page
						.locator(
							`#steps tr[data-task-id="${sagaId}.d.${target}"].selected, #steps tr[data-task-id="${sagaId}.d.${target}"]`,
						)
						.count(),
				{ timeout: 10_000 },
			)
			.toBeGreaterThan(0);
		// A cross-posted message alone, and a plain one with its room.
		expect(await search(page, sent.msgId)).toBe("message");
		await expect.poll(() => page.locator("#saga-id").textContent(), { timeout: 10_000 }).toBe(sagaId);
		expect(await search(page, `${origin}/${plain.msgId}`)).toBe("message");
		await expect.poll(() => page.locator("#room-id").textContent(), { timeout: 10_000 }).toBe(origin);
		expect(await search(page, target)).toBe("room");
		await expect.poll(() => page.locator("#room-id").textContent(), { timeout: 10_000 }).toBe(target);
		expect(await search(page, "0123456789abcdef0123456789abcdef")).toBe("room");
		expect(await search(page, "NOT AN ID!")).toBe("none");
		await expect.poll(() => page.locator("#search-note").textContent()).toMatch(/Not an id/);
		// The charts are drawn from the metrics' history.
		await page.locator("#throughput-chart svg polyline").first().waitFor({ timeout: 30_000 });
		expect(Number(await page.locator("#throughput-chart").getAttribute("data-total"))).toBeGreaterThan(0);
		await page.locator("#failure-chart svg").waitFor();
	});

	it("retries all failed tasks of a room after a preview, with a reason, audited", async () => {
		if (browser === undefined) throw new Error("no browser");
		const target = fresh("retryall");
		await call("/v1/admin/faults", { method: "POST", body: { deliverFailRate: 1, retractFailRate: 1, rooms: [target] } });
		const sent = await post(fresh("origin"), { text: "fails twice", crossPost: [target] });
		await until(
			"the saga to fail",
			async () =>
				(await call<{ state: string }>(`/v1/admin/sagas/${encodeURIComponent(sent.sagaId ?? "")}`)).state === "failed"
					? true
					: undefined,
			30_000,
		);
		await until("both failed tasks indexed", async () =>
			(await call<{ tasks: unknown[] }>(`/v1/admin/tasks?state=failed&room=${target}`)).tasks.length === 2 ? true : undefined,
		);
		await call("/v1/admin/faults", { method: "POST", body: {} });

		const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
		watchPage(page, problems);
		await signIn(page);
		await page.locator('.tabs [data-view="tasks"]').click();
		await page.locator("#filter-room").fill(target);
		await page.locator("#filter-state").selectOption("failed");
		await page.locator("#retry-all-open").click();
		await expect.poll(() => page.locator("#retry-all-count").getAttribute("data-count"), { timeout: 10_000 }).toBe("2");
		expect(await page.locator("#retry-all-scope").textContent()).toContain(target);
		expect(await page.locator("#retry-all-submit").textContent()).toBe("Retry 2 failed tasks");
		await page.locator("#retry-all-submit").click();
		await expect.poll(() => page.locator("#retry-all-error").textContent()).toMatch(/reason/i);
		await page.locator("#retry-all-reason").fill("target fixed; retrying everything that failed");
		await page.locator("#retry-all-submit").click();
		await expect
			.poll(() => page.locator("#banner-text").textContent(), { timeout: 10_000 })
			.toMatch(/^Retried 1 failed task; 1 refused/);
		const audit = await until("the retry in the audit log", async () => {
			const { entries } = await call<{ entries: Array<{ action: string; reason: string; actor: string }> }>(
				"/v1/admin/audit?limit=500",
			);
			return entries.find((e) => e.action === "retry" && e.reason === "target fixed; retrying everything that failed");
		});
		expect(audit.actor).toBe("ops");
		await page.screenshot({ path: "test-output/console-retry-all.png" });
	});

	it("edits a room's policy with a reason, and the change is audited", async () => {
		if (browser === undefined) throw new Error("no browser");
		const room = fresh("policy");
		await post(room, { text: "hello" });
		const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
		watchPage(page, problems);
		await signIn(page);
		expect(await search(page, room)).toBe("room");
		await page.locator("#policy-form").waitFor({ timeout: 10_000 });
		await page.locator("#policy-readonly").check();
		await page.locator("#policy-ban-user").fill("mallory");
		await page.locator("#policy-ban-add").click();
		await page.locator('#policy-banned li[data-user="mallory"]').waitFor();
		await page.locator("#policy-save").click();
		await expect.poll(() => page.locator("#policy-error").textContent()).toMatch(/reason/i);
		await page.locator("#policy-reason").fill("spam wave; read-only until it passes");
		await page.locator("#policy-save").click();
		await expect.poll(() => page.locator("#banner-text").textContent(), { timeout: 10_000 }).toMatch(/policy saved/);
		const policy = await call<{ readOnly: boolean; banned: string[] }>(`/v1/admin/rooms/${room}/policy`);
		expect(policy).toMatchObject({ readOnly: true, banned: ["mallory"] });
		await expect.poll(() => page.locator("#room-policy-state").getAttribute("data-read-only"), { timeout: 10_000 }).toBe("true");
		const entry = await until("the policy change in the audit log", async () => {
			const { entries } = await call<{
				entries: Array<{ action: string; taskId: string; reason: string; to: string; actor: string }>;
			}>("/v1/admin/audit?limit=500");
			return entries.find((e) => e.action === "policy" && e.taskId === `policy@${room}`);
		});
		expect(entry).toMatchObject({ actor: "ops", reason: "spam wave; read-only until it passes", to: "read-only; banned: mallory" });
		// A read-only room refuses the author now; unban and make it writable again.
		await expect(post(room, { text: "blocked" })).rejects.toThrow(/403/);
		await page.locator('#policy-banned button[data-unban="mallory"]').click();
		await page.locator("#policy-readonly").uncheck();
		await page.locator("#policy-reason").fill("wave over");
		await page.locator("#policy-save").click();
		await expect
			.poll(async () => (await call<{ readOnly: boolean; banned: string[] }>(`/v1/admin/rooms/${room}/policy`)).banned, {
				timeout: 10_000,
			})
			.toEqual([]);
		// The page lists the changes once the index has them.
		await expect
			.poll(
				async () => {
					await search(page, room);
					return await page.locator("#policy-audit tbody tr").count();
				},
				{ timeout: 20_000 },
			)
			.toBeGreaterThanOrEqual(1);
		// Read-only mode hides the form's write actions.
		await page.locator("#readonly").check();
		await expect.poll(() => page.locator("#policy-save").isVisible()).toBe(false);
		expect(await page.locator("#retry-all-open").isVisible()).toBe(false);
		await page.screenshot({ path: "test-output/console-room-policy.png" });
		expect(problems).toEqual([]);
	});
});
