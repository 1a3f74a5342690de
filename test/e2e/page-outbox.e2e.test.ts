/**
 * The chat page's unsent messages, in headless Chromium against the real `wrangler dev` with
 * the default rate limit: a burst typed offline, messages typed while the server is down in a
 * tab that is then closed, and Leave with messages still unsent. The page reaches the server
 * through a TCP proxy, so the runtime can be killed and restarted on the same state behind one
 * origin (localStorage is per origin). Every outcome is checked against the stored history.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventsPage } from "../../src/protocol.ts";
import { until } from "../support/api.ts";
import { browserMissing, launchChromium, watchPage } from "../support/browser.ts";
import { buildPage, freshRoom, say } from "../support/chat-page.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";
import { TcpProxy } from "./tcp-proxy.ts";

const VARS = { RATE_LIMIT_PER_SEC: "10" };
/** What Chromium logs while the server is down: failed upgrades and probes. Expected there. */
const SERVER_DOWN = /WebSocket connection to .* failed|Failed to load resource/;

let server: DevServer;
let proxy: TcpProxy;
let browser: Browser;
const problems: string[] = [];
const contexts: BrowserContext[] = [];

beforeAll(async () => {
	if (browserMissing) return;
	// The page under test is the bundle built from the current sources.
	buildPage();
	[server, browser] = await Promise.all([startDevServer({ vars: VARS }), launchChromium()]);
	proxy = await TcpProxy.start(server.port);
});

afterAll(async () => {
	for (const context of contexts) await context.close().catch(() => undefined);
	await browser?.close();
	await proxy?.close();
	await server?.stop();
});

async function newContext(): Promise<BrowserContext> {
	const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, locale: "en-US" });
	contexts.push(context);
	return context;
}

async function join(page: Page, name: string, room: string): Promise<void> {
	await page.goto(`${proxy.url}/#${room}`);
	await page.locator("#join-room").fill(room);
	await page.locator("#join-guest").fill(name);
	await page.locator("#join-submit").click();
	await live(page);
}

async function live(page: Page): Promise<void> {
	await page.locator('#status[data-state="live"]').waitFor({ timeout: 20_000 });
}

async function stored(room: string): Promise<Array<{ text: string; author: string }>> {
	const response = await fetch(`${server.url}/v1/rooms/${room}/events?after=0&limit=500&guest=auditor`);
	expect(response.status).toBe(200);
	const page = (await response.json()) as EventsPage;
	return page.events.flatMap((event) => (event.type === "message" ? [{ text: event.text, author: event.author.id }] : []));
}

/** Waits until the room holds `texts.length` messages, then checks they are exactly `texts`, in order, by `author`. */
async function expectStored(room: string, author: string, texts: string[], timeoutMs = 30_000): Promise<void> {
	await until(
		`${texts.length} messages stored in ${room}`,
		async () => ((await stored(room)).length >= texts.length ? true : undefined),
		timeoutMs,
	);
	// Give a late duplicate the chance to show up before asserting there is none.
	await new Promise((resolve) => setTimeout(resolve, 500));
	expect(await stored(room)).toEqual(texts.map((text) => ({ text, author })));
}

/** Records, at every change of the status line, what it says and how many bubbles are still pending. */
async function recordStatus(page: Page): Promise<() => Promise<string[]>> {
	await page.locator("#status").evaluate((status) => {
		const view = status.ownerDocument.defaultView;
		const log: string[] = [];
		view.statusLog = log;
		new view.MutationObserver(() => {
			const pending = status.ownerDocument.querySelectorAll("#outgoing li.pending").length;
			log.push(`${status.dataset.state}|${status.dataset.queue ?? ""}|${status.textContent}|${pending}`);
		}).observe(status, { attributes: true, childList: true, characterData: true, subtree: true });
	});
	return async () => (await page.locator("#status").evaluate((status) => status.ownerDocument.defaultView.statusLog)) as string[];
}

describe.skipIf(browserMissing)("chat page outbox", () => {
	it("sends 30 messages typed offline exactly once, in order, once the network is back", async () => {
		const room = freshRoom();
		const context = await newContext();
		const page = await context.newPage();
		watchPage(page, problems, { label: "burst" });
		await join(page, "jade", room);

		await context.setOffline(true);
		await page.locator('#status[data-state="offline"]').waitFor({ timeout: 10_000 });
		const texts = Array.from({ length: 30 }, (_, i) => `burst ${String(i + 1).padStart(2, "0")}`);
		for (const text of texts) await say(page, text);
		expect(await page.locator("#outgoing li.pending").count()).toBe(30);
		expect(await page.locator("#outgoing li.pending .badge").first().textContent()).toBe("waiting for connection…");
		expect(await page.locator("#status").getAttribute("data-queue")).toBe("waiting");
		expect(await page.locator("#status").textContent()).toMatch(/30 messages waiting/);

		const statusLog = await recordStatus(page);
		const backAt = Date.now();
		await context.setOffline(false);
		await expectStored(room, "guest:jade", texts, 30_000);
		await page.locator("#outgoing li").first().waitFor({ state: "detached", timeout: 30_000 });
		expect(Date.now() - backAt).toBeLessThan(30_000);
		await page.locator("#timeline li", { hasText: "burst 30" }).waitFor();
		expect(await page.locator("#timeline li .text").allTextContents()).toEqual(texts);

		// The status said what the queue was doing, and never "Live" while a bubble was pending.
		const log = await statusLog();
		expect(log.some((entry) => entry.includes("|sending|Sending"))).toBe(true);
		expect(log.filter((entry) => entry.startsWith("live||") && !entry.endsWith("|0"))).toEqual([]);
		expect(await page.locator("#status").textContent()).toBe("Live");
		await context.close();
		expect(problems).toEqual([]);
	});

	it("asks before Leave with unsent messages, keeps them when told to, and drops them when told to", async () => {
		const room = freshRoom();
		const context = await newContext();
		const page = await context.newPage();
		watchPage(page, problems, { label: "leave" });
		await join(page, "kai", room);
		const dialog = page.locator("#leave-dialog");

		await context.setOffline(true);
		await page.locator('#status[data-state="offline"]').waitFor({ timeout: 10_000 });
		await say(page, "kept 1");
		await say(page, "kept 2");

		// Stay: nothing changes.
		await page.locator("#leave").click();
		await dialog.waitFor({ state: "visible" });
		expect(await dialog.textContent()).toMatch(
			new RegExp(`2 messages are not sent yet.*kept in this browser and sent the next time you join #${room} as kai`),
		);
		await page.locator("#leave-stay").click();
		await dialog.waitFor({ state: "hidden" });
		expect(await page.locator("#chat").isVisible()).toBe(true);
		expect(await page.locator("#outgoing li.pending").count()).toBe(2);

		// Leave and keep them: they go out when kai is back.
		await page.locator("#leave").click();
		await page.locator("#leave-keep").click();
		await page.locator("#join-form").waitFor();
		expect(
			await page.evaluate(
				"Object.keys(localStorage).filter((k) => k.startsWith('parley.outbox')).map((k) => localStorage.getItem(k)).join()",
			),
		).toMatch(/kept 1.*kept 2/);
		await context.setOffline(false);
		await page.locator("#join-room").fill(room);
		await page.locator("#join-submit").click(); // the guest name was kept in the form
		await live(page);
		await expectStored(room, "guest:kai", ["kept 1", "kept 2"]);
		await page.locator("#outgoing li").first().waitFor({ state: "detached", timeout: 15_000 });

		// Leave and discard: gone from the page, the browser and the room.
		await context.setOffline(true);
		await page.locator('#status[data-state="offline"]').waitFor({ timeout: 10_000 });
		await say(page, "drop me");
		await page.locator("#leave").click();
		await page.locator("#leave-discard").click();
		await page.locator("#join-form").waitFor();
		await context.setOffline(false);
		await page.locator("#join-submit").click();
		await live(page);
		await say(page, "after the discard");
		await expectStored(room, "guest:kai", ["kept 1", "kept 2", "after the discard"]);
		expect(await page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('parley.outbox')).length")).toBe(0);
		await context.close();
		expect(problems).toEqual([]);
	});

	it("sends messages typed while the server was down, after the tab was closed and reopened", async () => {
		const room = freshRoom();
		const context = await newContext();
		const first = await context.newPage();
		watchPage(first, problems, { label: "first tab", expected: SERVER_DOWN });
		await join(first, "lena", room);
		await say(first, "before the outage");
		await expectStored(room, "guest:lena", ["before the outage"]);

		// The runtime dies; the tab notices and queues.
		proxy.setTarget(undefined);
		await server.kill();
		proxy.cutAll();
		await first.locator('#status:not([data-state="live"])').waitFor({ timeout: 15_000 });
		const texts = ["one", "two", "three"];
		for (const text of texts) await say(first, text);
		expect(await first.locator("#outgoing li.pending").count()).toBe(3);
		expect(await first.locator("#status").getAttribute("data-queue")).toBe("waiting");

		// Closing a tab with unsent messages warns; the user closes it anyway.
		const warned = new Promise<string>((resolve) => {
			first.once("dialog", (dialog) => {
				resolve(dialog.type());
				void dialog.accept();
			});
			setTimeout(() => resolve("no dialog"), 10_000);
		});
		await first.close({ runBeforeUnload: true });
		expect(await warned).toBe("beforeunload");
		await until("the first tab to close", async () => (first.isClosed() ? true : undefined), 10_000);

		server = await startDevServer({ persistTo: server.persistTo, vars: VARS });
		proxy.setTarget(server.port);

		// A new tab on /#room rejoins as lena (the identity outlived the tab) and sends them.
		const second = await context.newPage();
		watchPage(second, problems, { label: "second tab" });
		await second.goto(`${proxy.url}/#${room}`);
		await live(second);
		expect(await second.locator("#join").isHidden()).toBe(true);
		await expectStored(room, "guest:lena", ["before the outage", ...texts]);
		await second.locator("#outgoing li").first().waitFor({ state: "detached", timeout: 15_000 });
		await second.locator("#timeline li", { hasText: "three" }).waitFor();
		expect(await second.locator("#timeline li .text").allTextContents()).toEqual(["before the outage", ...texts]);
		expect(problems).toEqual([]);
	});
});
