/**
 * Operator moderation (a bulk retract) in the console (`/console/`), in headless Chromium against the
 * real `wrangler dev`: a spammer posts in two rooms (one message cross-posted to a third);
 * the operator builds a selector for the spammer over the last hour, previews it (3 messages,
 * 1 copy), confirms with a reason and watches the moderation reach `done` 3/3. Every spam
 * message and the copy end with a `moderated` retract; another user's message (hostile
 * markup) is untouched and stays text; the audit names the actor and the reason; read-only
 * mode hides the form.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import { apiCaller, until } from "../support/api.ts";
import { browserMissing, launchChromium, watchPage } from "../support/browser.ts";
import { type DevServer, PROJECT_ROOT, startDevServer } from "../support/dev-server.ts";

interface Sent {
	msgId: string;
	sagaId?: string;
}

interface RoomEvent {
	type: string;
	msgId: string;
	text?: string;
	reason?: string;
	author?: { id: string };
	from?: { room: string; msgId: string; sagaId: string };
}

interface DryRun {
	messages: number;
	copies: number;
	rooms: Array<{ room: string; messages: number; copies: number }>;
}

const fresh = (prefix: string): string => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
const spamId = fresh("spam");
const admin = await mintToken({ sub: "ops", name: "Ops", role: "admin" });
const spammer = await mintToken({ sub: spamId, name: "Spammer" });
const bystander = await mintToken({ sub: fresh("bea"), name: "Bea" });
const HOSTILE = "<img src=x onerror=window.__pwned=1>";
const REASON = "spam wave from a compromised account <b>#4711</b>";

let server: DevServer;
let browser: Browser;

const call = apiCaller(() => server.url, admin);

async function events(room: string): Promise<RoomEvent[]> {
	return (await call<{ events: RoomEvent[] }>(`/v1/rooms/${room}/events?limit=500`)).events;
}

beforeAll(async () => {
	if (browserMissing) return;
	// The console under test is the bundle built from the current sources.
	execFileSync(process.execPath, ["scripts/build-client.mjs"], { cwd: PROJECT_ROOT, stdio: "pipe" });
	[server, browser] = await Promise.all([startDevServer({ vars: { OUTBOX_BASE_DELAY_MS: "50" } }), launchChromium()]);
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

describe.skipIf(browserMissing)("operator moderation in the console", () => {
	it("previews, confirms with a reason and follows a bulk retract to done", async () => {
		// Seed: three spam messages across two rooms, one cross-posted to a third; one message by someone else.
		const roomA = fresh("lobby");
		const roomB = fresh("random");
		const roomC = fresh("mirror");
		const post = async (room: string, token: string, body: Record<string, unknown>): Promise<Sent> =>
			await call<Sent>(`/v1/rooms/${room}/messages`, { method: "POST", token, body });
		const s1 = await post(roomA, spammer, { id: "s1", text: "cheap <b>pills</b>" });
		const s2 = await post(roomA, spammer, { id: "s2", text: "cheap pills, everywhere", crossPost: [roomC] });
		const s3 = await post(roomB, spammer, { id: "s3", text: "cheap pills again" });
		const keep = await post(roomA, bystander, { id: "k1", text: HOSTILE });
		expect(s2.sagaId).toBeTruthy();
		await until("the cross-post saga to succeed", async () => {
			const saga = await call<{ state: string }>(`/v1/admin/sagas/${encodeURIComponent(s2.sagaId ?? "")}`);
			return saga.state === "succeeded" ? saga : undefined;
		});
		// The author directory is fed asynchronously: wait until a dry run sees all three.
		const dry = await until(
			"the author directory to know the spammer's rooms",
			async () => {
				const preview = await call<DryRun>("/v1/admin/moderations", {
					method: "POST",
					body: { selector: { author: spamId }, action: "retract", reason: "probe", dryRun: true },
				});
				return preview.messages === 3 ? preview : undefined;
			},
			15_000,
		);
		expect(dry.copies).toBe(1);

		const context = await browser.newContext({ viewport: { width: 1440, height: 1100 } });
		const page = await context.newPage();
		const problems: string[] = [];
		// The one refused preview below answers 400, which Chromium logs as a console error.
		const expected400 = /Failed to load resource: the server responded with a status of 400/;
		let refused = 0;
		watchPage(page, problems, { expected: expected400, onExpected: () => refused++, failedRequests: true });

		// Sign in and open the Moderations view and the form.
		await page.goto(`${server.url}/console/`);
		await page.locator("#token").fill(admin);
		await page.locator("#signin-submit").click();
		await page.locator("#app").waitFor({ timeout: 10_000 });
		await page.locator('.tabs [data-view="moderations"]').click();
		await page.locator("#mod-new-open").click();
		await page.locator("#mod-new").waitFor({ timeout: 5_000 });
		expect(await page.locator('.tabs [data-view="moderations"]').textContent()).toBe("Moderations");
		expect(await page.locator("#mod-new h2").textContent()).toBe("New moderation");
		expect(await page.locator("#mod-submit").isDisabled()).toBe(true);

		// An empty selector is refused by the server; its message shows inline.
		await page.locator("#mod-preview").click();
		await expect.poll(() => page.locator("#mod-form-error").textContent(), { timeout: 10_000 }).toContain("unbounded selector");
		expect(await page.locator("#mod-submit").isDisabled()).toBe(true);

		// The spammer over the last hour: preview shows 3 messages and 1 copy, in two rooms.
		await page.locator("#mod-author").fill(spamId);
		await page.locator("#mod-last-hour").click();
		expect(await page.locator("#mod-from").inputValue()).not.toBe("");
		expect(await page.locator("#mod-to").inputValue()).not.toBe("");
		await page.locator("#mod-preview").click();
		await page.locator('#mod-preview-state[data-state="current"]').waitFor({ timeout: 10_000 });
		expect(await page.locator("#mod-form-error").isHidden()).toBe(true);
		expect(await page.locator("#mod-preview-messages").textContent()).toBe("3");
		expect(await page.locator("#mod-preview-copies").textContent()).toBe("1");
		expect(await page.locator(`#mod-preview-rooms tr[data-room="${roomA}"]`).getAttribute("data-messages")).toBe("2");
		expect(await page.locator(`#mod-preview-rooms tr[data-room="${roomB}"]`).getAttribute("data-messages")).toBe("1");
		expect(await page.locator(`#mod-preview-copy-rooms tr[data-room="${roomC}"]`).getAttribute("data-copies")).toBe("1");
		expect(await page.locator("#mod-submit").isEnabled()).toBe(true);
		mkdirSync(join(PROJECT_ROOT, "test-output"), { recursive: true });
		await page.locator("#detail").screenshot({ path: join(PROJECT_ROOT, "test-output/moderation-preview.png") });

		// Any change to the inputs invalidates the preview; the same inputs again match it.
		await page.locator("#mod-author").fill(`${spamId}x`);
		expect(await page.locator("#mod-submit").isDisabled()).toBe(true);
		expect(await page.locator("#mod-preview-state").getAttribute("data-state")).toBe("stale");
		await page.locator("#mod-author").fill(spamId);
		expect(await page.locator("#mod-submit").isEnabled()).toBe(true);

		// Confirm: the dialog repeats the counts and requires a reason.
		await page.locator("#mod-submit").click();
		await page.locator("#mod-dialog").waitFor();
		expect(await page.locator("#mod-dialog-messages").textContent()).toBe("3");
		expect(await page.locator("#mod-dialog-copies").textContent()).toBe("1");
		await page.locator("#mod-confirm").click();
		await page.locator("#mod-dialog-error").waitFor();
		await page.locator("#mod-reason").fill(REASON);
		await page.locator("#mod-confirm").click();
		await expect
			.poll(
				async () =>
					(await page.locator("#mod-dialog").isVisible())
						? `open: ${await page.locator("#mod-dialog-error").textContent()}`
						: "closed",
				{
					timeout: 10_000,
				},
			)
			.toBe("closed");

		// The detail of the new moderation follows it live to done, 3/3.
		await page.locator("#mod-id").waitFor({ timeout: 10_000 });
		const modId = (await page.locator("#mod-id").textContent()) ?? "";
		expect(modId).toMatch(/^mod@[0-9a-f]{12}$/);
		expect(await page.locator("#detail-body .detail-head h2").textContent()).toBe(`Moderation ${modId}`);
		await page.locator('#mod-state [data-state="done"]').waitFor({ timeout: 30_000 });
		const messages = page.locator("#mod-progress-messages");
		expect(await messages.getAttribute("data-done")).toBe("3");
		expect(await messages.getAttribute("data-total")).toBe("3");
		expect(await messages.locator(".progress-count").textContent()).toBe("3 / 3");
		expect(await page.locator("#mod-progress-rooms .progress-count").textContent()).toBe("2 / 2");
		expect(await page.locator("#mod-live").textContent()).toBe("finished");
		expect(await page.locator("#mod-actor").textContent()).toBe("ops");
		expect(await page.locator("#mod-reason-text").textContent()).toBe(REASON);
		expect(await page.locator("#detail-body b, #detail-body img, #detail-body script").count()).toBe(0);
		// One moderate task per room, both succeeded.
		const tasks = page.locator('#steps tr[data-kind="moderate"]');
		expect(await tasks.count()).toBe(2);
		expect(new Set(await tasks.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state"))))).toEqual(new Set(["succeeded"]));
		// The audit panel names the actor and the reason; the trace timeline is there.
		const audit = page.locator('#mod-audit tr[data-action="moderate"]');
		await audit.waitFor({ timeout: 10_000 });
		expect(await audit.locator(".actor").textContent()).toBe("ops");
		expect(await audit.locator(".reason").textContent()).toBe(REASON);
		await page.locator("#trace-spans li").first().waitFor({ timeout: 10_000 });
		// The hash links the detail, and the list shows the new moderation (its index is fed asynchronously).
		expect(await page.evaluate(() => (globalThis as { location?: { hash: string } }).location?.hash ?? "")).toContain(
			`mod=${encodeURIComponent(modId)}`,
		);
		await page.locator(`#list-body tr[data-mod-id="${modId}"][data-state="done"]`).waitFor({ timeout: 15_000 });
		// The state filter says `done`; the console asks the index for `succeeded`.
		await page.locator("#filter-state").selectOption("done");
		await page.locator(`#list-body tr[data-mod-id="${modId}"]`).waitFor({ timeout: 10_000 });
		expect(
			new Set(await page.locator("#list-body tr.clickable").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state")))),
		).toEqual(new Set(["done"]));

		// The server agrees: every spam message and the copy carry a `moderated` retract, exactly once.
		const copy = await until("the copy's retract", async () => {
			const log = await events(roomC);
			const found = log.find((e) => e.type === "message" && e.from?.msgId === s2.msgId);
			if (found === undefined) throw new Error(`no copy of ${s2.msgId} in ${roomC}`);
			const retracts = log.filter((e) => e.type === "retract" && e.msgId === found.msgId);
			return retracts.length > 0 ? { msgId: found.msgId, retracts } : undefined;
		});
		expect(copy.retracts.map((e) => e.reason)).toEqual(["moderated"]);
		const [eventsA, eventsB] = await Promise.all([events(roomA), events(roomB)]);
		for (const [msgId, list] of [
			[s1.msgId, eventsA],
			[s2.msgId, eventsA],
			[s3.msgId, eventsB],
		] as const) {
			expect(list.filter((e) => e.type === "retract" && e.msgId === msgId).map((e) => e.reason)).toEqual(["moderated"]);
		}
		expect(eventsA.filter((e) => e.type === "retract" && e.msgId === keep.msgId)).toEqual([]);
		expect(eventsA.find((e) => e.type === "message" && e.msgId === keep.msgId)?.text).toBe(HOSTILE);
		const auditApi = await call<{ entries: Array<{ action: string; sagaId?: string; actor: string; reason: string }> }>(
			"/v1/admin/audit?limit=100",
		);
		expect(auditApi.entries.find((e) => e.action === "moderate" && e.sagaId === modId)).toMatchObject({ actor: "ops", reason: REASON });
		expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();

		await page.screenshot({ path: join(PROJECT_ROOT, "test-output/moderation-console.png"), fullPage: true });

		// Read-only mode hides the form and the button that opens it.
		await page.locator("#mod-new-open").click();
		await page.locator("#mod-new").waitFor();
		await page.locator("#readonly").check();
		await expect.poll(() => page.locator("#mod-new").isVisible()).toBe(false);
		expect(await page.locator("#mod-new-open").isVisible()).toBe(false);
		await page.locator("#readonly").uncheck();
		await page.locator("#mod-new-open").waitFor();
		// `?readonly=1` with a link to the form: the form stays hidden; the detail opens without write actions.
		await page.goto(`${server.url}/console/?readonly=1#view=moderations&new=1`);
		await page.locator("#app").waitFor({ timeout: 10_000 });
		await page.locator("#list-body tr").first().waitFor({ timeout: 10_000 });
		expect(await page.locator("#mod-new").isVisible()).toBe(false);
		expect(await page.locator("#mod-new-open").isVisible()).toBe(false);
		await page.goto(`${server.url}/console/?readonly=1#view=moderations&mod=${encodeURIComponent(modId)}`);
		await page.reload(); // only the hash changed: load the page again so it reads the new one
		await page.locator('#mod-state [data-state="done"]').waitFor({ timeout: 10_000 });
		expect(await page.locator("#steps button[data-action]").count()).toBe(0);
		expect(await page.locator("#mod-new").isVisible()).toBe(false);
		// A link made before the rename opens the same moderation on the Moderations tab.
		await page.goto(`${server.url}/console/?readonly=1#view=compensations&cmp=${encodeURIComponent(modId)}`);
		await page.reload();
		await page.locator('#mod-state [data-state="done"]').waitFor({ timeout: 10_000 });
		expect(await page.locator("#mod-id").textContent()).toBe(modId);
		expect(await page.locator('.tabs [data-view="moderations"]').getAttribute("aria-selected")).toBe("true");

		expect(refused).toBe(1);
		expect(problems).toEqual([]);
		await context.close();
	});
});
