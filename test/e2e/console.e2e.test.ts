/**
 * The operator console (`/console/`) in headless Chromium against the real `wrangler dev`:
 * a cross-post whose compensation fails is found in the failed-task list, its saga and trace
 * are read, the failed retract is retried with a reason and the saga ends `compensated`; the
 * message's markup stays text, the audit log names who did it, and read-only mode hides
 * every write action.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import { apiCaller, until } from "../support/api.ts";
import { browserMissing, launchChromium, watchPage } from "../support/browser.ts";
import { type DevServer, PROJECT_ROOT, startDevServer } from "../support/dev-server.ts";

interface Task {
	taskId: string;
	sagaId: string;
	room: string;
	kind: string;
	state: string;
	actions: string[];
}

const fresh = (prefix: string): string => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
const admin = await mintToken({ sub: "ops", name: "Ops", role: "admin" });
const author = await mintToken({ sub: "ann", name: "Ann" });
const TEXT = 'look <b>here</b> <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">';
const REASON = "target recovered; retrying the compensation";

let server: DevServer;
let browser: Browser;
const problems: string[] = [];

const call = apiCaller(() => server.url, admin);

beforeAll(async () => {
	if (browserMissing) return;
	// The console under test is the bundle built from the current sources.
	execFileSync(process.execPath, ["scripts/build-client.mjs"], { cwd: PROJECT_ROOT, stdio: "pipe" });
	[server, browser] = await Promise.all([
		startDevServer({ vars: { FAULTS: "on", OUTBOX_BASE_DELAY_MS: "20", OUTBOX_MAX_ATTEMPTS: "2" } }),
		launchChromium(),
	]);
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

async function stepButtons(page: Page): Promise<number> {
	return await page.locator("#steps button[data-action]").count();
}

/** The actions a step's row offers, in order. */
async function stepActions(page: Page, taskId: string): Promise<string[]> {
	return await page
		.locator(`#steps tr[data-task-id="${taskId}"] button[data-action]`)
		.evaluateAll((buttons) => buttons.map((b) => b.getAttribute("data-action") ?? ""));
}

describe.skipIf(browserMissing)("the operator console", () => {
	it("finds a failed compensation, shows its trace, retries it, and records who did it", async () => {
		// A cross-post into a room that refuses everything: the deliver fails, the saga
		// compensates, and the retract to the same room fails too, so the saga ends failed.
		const origin = fresh("origin");
		const target = fresh("target");
		await call("/v1/admin/faults", { method: "POST", body: { deliverFailRate: 1, retractFailRate: 1, rooms: [target] } });
		const sent = await call<{ sagaId: string; traceId: string }>(`/v1/rooms/${origin}/messages`, {
			method: "POST",
			token: author,
			body: { id: "c1", text: TEXT, crossPost: [target] },
		});
		expect(sent.sagaId).toBeTruthy();
		await until("the saga to fail", async () => {
			const saga = await call<{ state: string }>(`/v1/admin/sagas/${encodeURIComponent(sent.sagaId)}`);
			return saga.state === "failed" ? saga : undefined;
		});
		const retract = await until("the failed retract in the task list", async () => {
			const page = await call<{ tasks: Task[] }>(`/v1/admin/tasks?state=failed&room=${target}`);
			return page.tasks.find((t) => t.sagaId === sent.sagaId && t.kind === "retract");
		});
		await call("/v1/admin/faults", { method: "POST", body: {} });

		const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
		const page = await context.newPage();
		watchPage(page, problems, { failedRequests: true });

		// Sign in with the admin token.
		await page.goto(`${server.url}/console/`);
		await page.locator("#token").fill(admin);
		await page.locator("#signin-submit").click();
		await page.locator("#app").waitFor({ timeout: 10_000 });
		await expect.poll(() => page.locator("#who").textContent()).toContain("Ops");
		// Live counts and the latency chart.
		await expect
			.poll(async () => Number(await page.locator('#saga-counts [data-state="failed"]').getAttribute("data-count")), {
				timeout: 10_000,
			})
			.toBeGreaterThanOrEqual(1);
		await page.locator("#latency-chart svg").waitFor();

		// The failed-task list, filtered by state and room.
		await page.locator('.tabs [data-view="tasks"]').click();
		await page.locator("#filter-room").fill(target);
		await page.locator("#filter-state").selectOption("failed");
		const row = page.locator(`#list-body tr[data-task-id="${retract.taskId}"]`);
		await row.waitFor({ timeout: 10_000 });
		expect(await row.getAttribute("data-state")).toBe("failed");
		const states = await page.locator("#list-body tr.clickable").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state")));
		expect(new Set(states)).toEqual(new Set(["failed"]));
		await row.click();

		// The saga: fields, graph, message text as literal text, and the trace.
		await page.locator('#saga-state [data-state="failed"]').waitFor({ timeout: 10_000 });
		expect(await page.locator("#saga-id").textContent()).toBe(sent.sagaId);
		expect(await page.locator("#message-text").textContent()).toBe(TEXT);
		expect(await page.locator("#detail-body script, #detail-body img, #detail-body b").count()).toBe(0);
		// The lib is es2024 without DOM types: reach the page's global through globalThis.
		expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
		await page.locator(`#saga-graph .edge.retract[data-room="${target}"][data-state="failed"]`).waitFor();
		await page.locator("#trace-spans li").first().waitFor({ timeout: 10_000 });
		expect(await page.locator("#trace-spans li").count()).toBeGreaterThan(1);

		// The failed retract offers what the server allows: retry or skip, never cancel.
		expect(retract.actions).toEqual(["retry", "skip"]);
		expect(await stepActions(page, retract.taskId)).toEqual(retract.actions);

		// Retry the failed retract with a reason.
		const step = page.locator(`#steps tr[data-task-id="${retract.taskId}"]`);
		await step.locator('button[data-action="retry"]').click();
		await page.locator("#action-dialog").waitFor();
		await page.locator("#action-submit").click();
		await page.locator("#action-error").waitFor(); // the reason is required
		await page.locator("#action-reason").fill(REASON);
		await page.locator("#action-submit").click();
		// On failure this shows the dialog's error (the server's answer) rather than only a timeout.
		await expect
			.poll(
				async () =>
					(await page.locator("#action-dialog").isVisible())
						? `open: ${await page.locator("#action-error").textContent()}`
						: "closed",
				{
					timeout: 10_000,
				},
			)
			.toBe("closed");
		await page.locator('#banner[data-kind="ok"]').waitFor();
		await page.locator(`#steps tr[data-task-id="${retract.taskId}"][data-state="succeeded"]`).waitFor({ timeout: 20_000 });
		await page.locator('#saga-state [data-state="compensated"]').waitFor({ timeout: 20_000 });

		// The audit log shows the action, its actor and its reason.
		await page.locator('.tabs [data-view="audit"]').click();
		const entry = page.locator(`#list-body tr[data-task-id="${retract.taskId}"][data-action="retry"]`);
		await entry.waitFor({ timeout: 10_000 });
		expect(await entry.getAttribute("data-actor")).toBe("ops");
		expect(await entry.locator(".actor").textContent()).toBe("ops");
		expect(await entry.locator(".reason").textContent()).toBe(REASON);
		// The live counters catch up with the compensation on their own.
		await expect
			.poll(async () => Number(await page.locator('#saga-counts [data-state="compensated"]').getAttribute("data-count")), {
				timeout: 15_000,
			})
			.toBeGreaterThanOrEqual(1);
		mkdirSync(join(PROJECT_ROOT, "test-output"), { recursive: true });
		await page.screenshot({ path: join(PROJECT_ROOT, "test-output/console.png"), fullPage: true });

		// Alerts: the failed tasks raised alerts (no webhook configured here).
		await page.locator('.tabs [data-view="alerts"]').click();
		await page.locator(`#list-body tr[data-task-id="${retract.taskId}"]`).first().waitFor({ timeout: 10_000 });

		// Read-only mode: the failed deliver still offers actions until the toggle hides them.
		expect(await stepButtons(page)).toBeGreaterThan(0);
		await page.locator("#readonly").check();
		await expect.poll(() => stepButtons(page)).toBe(0);
		await page.locator("#readonly").uncheck();
		await expect.poll(() => stepButtons(page)).toBeGreaterThan(0);
		// `?readonly=1` forces it on, whatever the toggle says.
		await page.goto(`${server.url}/console/?readonly=1#view=tasks&saga=${encodeURIComponent(sent.sagaId)}`);
		await page.locator('#saga-state [data-state="compensated"]').waitFor({ timeout: 10_000 });
		await page.locator("#steps").waitFor();
		expect(await stepButtons(page)).toBe(0);
		expect(await page.locator("#readonly").isChecked()).toBe(true);
		expect(await page.locator("#readonly").isDisabled()).toBe(true);

		expect(problems).toEqual([]);
		await context.close();
	});

	it("explains refused tokens and shows a conflicting action's 409", async () => {
		// Chromium logs every non-2xx fetch as a console error; here only the expected ones may appear.
		const expected = /Failed to load resource: the server responded with a status of (401|403|409)/;
		const seen: string[] = [];
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
		const page = await context.newPage();
		watchPage(page, seen, { expected });

		// A deliver that fails for good (the retract succeeds): the saga ends compensated.
		const origin = fresh("origin");
		const target = fresh("target");
		await call("/v1/admin/faults", { method: "POST", body: { deliverFailRate: 1, rooms: [target] } });
		const sent = await call<{ sagaId: string }>(`/v1/rooms/${origin}/messages`, {
			method: "POST",
			token: author,
			body: { id: "c2", text: "second", crossPost: [target] },
		});
		const saga = await until("the saga to compensate", async () => {
			const body = await call<{ state: string; steps: Task[] }>(`/v1/admin/sagas/${encodeURIComponent(sent.sagaId)}`);
			return body.state === "compensated" ? body : undefined;
		});
		await call("/v1/admin/faults", { method: "POST", body: {} });
		const deliver = saga.steps.find((t) => t.kind === "deliver" && t.state === "failed");
		expect(deliver).toBeDefined();

		await page.goto(`${server.url}/console/#view=sagas&saga=${encodeURIComponent(sent.sagaId)}`);
		// Refused tokens say why and stay on the sign-in form.
		await page.locator("#token").fill(author);
		await page.locator("#signin-submit").click();
		await expect.poll(() => page.locator("#signin-error").textContent()).toContain("not an admin");
		await page.locator("#token").fill(await mintToken({ sub: "ops", name: "Ops", role: "admin", ttlSeconds: -60 }));
		await page.locator("#signin-submit").click();
		await expect.poll(() => page.locator("#signin-error").textContent()).toContain("expired");
		expect(await page.locator("#app").isHidden()).toBe(true);

		// With an admin token the linked saga opens. Its saga is compensated, so the failed
		// delivery offers no retry (the server would refuse it); someone else skips it first,
		// so the cancel conflicts.
		await page.locator("#token").fill(admin);
		await page.locator("#signin-submit").click();
		const step = page.locator(`#steps tr[data-task-id="${deliver?.taskId}"][data-state="failed"]`);
		await step.waitFor({ timeout: 10_000 });
		expect(await step.locator('button[data-action="retry"]').count()).toBe(0);
		// Every step offers exactly the actions the server lists for it, and nothing of its own.
		expect(deliver?.actions).toEqual(["skip", "cancel"]);
		for (const task of saga.steps) expect([task.taskId, await stepActions(page, task.taskId)]).toEqual([task.taskId, task.actions]);
		await step.locator('button[data-action="cancel"]').click();
		await page.locator("#action-reason").fill("cancel the delivery");
		await call(`/v1/admin/tasks/${encodeURIComponent(deliver?.taskId ?? "")}/actions`, {
			method: "POST",
			body: { action: "skip", reason: "not needed" },
		});
		await page.locator("#action-submit").click();
		await expect.poll(() => page.locator("#action-error").textContent()).toMatch(/^Conflict: /);
		await page.locator("#action-cancel").click();
		await page.locator(`#steps tr[data-task-id="${deliver?.taskId}"][data-state="skipped"]`).waitFor({ timeout: 10_000 });

		expect(seen).toEqual([]);
		await context.close();
	});
});
