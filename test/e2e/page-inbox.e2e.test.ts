/**
 * The chat page's view across rooms (v1.4) in headless Chromium against the real `wrangler dev`:
 * Ann and Bob each have a page open; Bob posts in two rooms Ann is in, one message mentioning
 * her, and Ann's room list shows the right unread and mention badges, her mentions view the
 * mention, and her tab title the unread total, live and again after a reload; opening a room
 * from the list switches to it; Ann opens a DM with Bob from the page and both see it in their
 * room lists, under the other's name. Posts the test makes itself go over HTTP, so what the
 * pages show is the only thing under test.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import { browserMissing, launchChromium, watchPage } from "../support/browser.ts";
import { buildPage, freshRoom, say } from "../support/chat-page.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";

/** Every wait of this file: long enough for an outbox task to be delivered, short enough to fail fast. */
const WAIT_MS = 30_000;

let server: DevServer;
let browser: Browser;
const problems: string[] = [];
const contexts: BrowserContext[] = [];

beforeAll(async () => {
	if (browserMissing) return;
	buildPage();
	[server, browser] = await Promise.all([startDevServer(), launchChromium()]);
});

afterAll(async () => {
	for (const context of contexts) await context.close().catch(() => undefined);
	await browser?.close();
	await server?.stop();
});

interface Person {
	id: string;
	token: string;
	page: Page;
}

/** Opens the page at `#room` and joins with a token through the form, waiting until live. */
async function openAs(id: string, name: string, room: string): Promise<Person> {
	const token = await mintToken({ sub: id, name });
	const context = await browser.newContext({ viewport: { width: 1100, height: 750 }, locale: "en-US" });
	contexts.push(context);
	const page = await context.newPage();
	watchPage(page, problems, { label: name });
	await page.goto(`${server.url}/#${room}`);
	await page.locator("#join-room").fill(room);
	await page.locator("#join-mode").selectOption("token");
	await page.locator("#join-token").fill(token);
	await page.locator("#join-submit").click();
	await page.locator('#status[data-state="live"]').waitFor({ timeout: WAIT_MS });
	return { id, token, page };
}

/** Posts over HTTP as the holder of `token`, and checks the server stored it. */
async function post(token: string, room: string, text: string): Promise<void> {
	const response = await fetch(`${server.url}/v1/rooms/${room}/messages`, {
		method: "POST",
		headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
		body: JSON.stringify({ id: crypto.randomUUID(), text }),
	});
	expect(response.status, await response.clone().text()).toBe(201);
}

const roomItem = (page: Page, room: string) => page.locator(`#room-list li.room-item[data-room="${room}"]`);

/** The unread and mention badges of `room` in the list, as shown ("" when hidden). */
async function badges(page: Page, room: string): Promise<{ unread: string; mentions: string }> {
	const item = roomItem(page, room);
	const shown = async (selector: string): Promise<string> => {
		const badge = item.locator(selector);
		return (await badge.isVisible()) ? ((await badge.textContent()) ?? "") : "";
	};
	return { unread: await shown(".count-unread"), mentions: await shown(".count-mention") };
}

/** Waits until `probe` returns `expected` (deep equal), or fails with the last value seen. */
async function eventually<T>(what: string, probe: () => Promise<T>, expected: T, timeoutMs = WAIT_MS): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let last: T | undefined;
	while (Date.now() < deadline) {
		last = await probe().catch(() => undefined);
		if (JSON.stringify(last) === JSON.stringify(expected)) return;
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
	expect(last, `${what} within ${timeoutMs} ms`).toEqual(expected);
}

describe.skipIf(browserMissing)("chat page: rooms, mentions and DMs", () => {
	it("badges unread messages and mentions per room, titles the tab with the total, and opens a DM both see", async () => {
		const suffix = crypto.randomUUID().slice(0, 6);
		const annId = `ann-${suffix}`;
		const bobId = `bob-${suffix}`;
		const [home, teamA, teamB] = [freshRoom(), freshRoom(), freshRoom()];
		const annToken = await mintToken({ sub: annId, name: "Ann" });
		const bobToken = await mintToken({ sub: bobId, name: "Bob" });

		// Ann is in both rooms (a first post puts a room in the inbox, and makes her mentionable there).
		await post(annToken, teamA, "hi from Ann");
		await post(annToken, teamB, "hi from Ann");

		const ann = await openAs(annId, "Ann", home);
		const bob = await openAs(bobId, "Bob", home);
		await roomItem(ann.page, teamA).waitFor({ timeout: WAIT_MS });
		await roomItem(ann.page, teamB).waitFor({ timeout: WAIT_MS });
		expect(await badges(ann.page, teamA)).toEqual({ unread: "", mentions: "" });

		// Bob writes in both rooms while Ann looks at another one.
		await post(bobToken, teamA, "first in A");
		await post(bobToken, teamA, "second in A");
		await post(bobToken, teamB, "hey @Ann, look at this");

		await eventually("team-a's badges", () => badges(ann.page, teamA), { unread: "2", mentions: "" });
		await eventually("team-b's badges", () => badges(ann.page, teamB), { unread: "1", mentions: "1" });
		await eventually("the tab title", () => ann.page.title(), "(3) Parley");
		// Unread rooms come first in the list.
		const order = await ann.page
			.locator("#room-list li.room-item")
			.evaluateAll((items) => items.map((li) => li.getAttribute("data-room")));
		expect(order.slice(0, 2).sort()).toEqual([teamA, teamB].sort());

		// The mentions view lists it with room, author and excerpt.
		await ann.page.locator("#tab-mentions").click();
		const mention = ann.page.locator(`#mention-list li.mention-item[data-room="${teamB}"]`);
		await mention.waitFor({ timeout: WAIT_MS });
		expect(await mention.locator(".mention-room").textContent()).toBe(`#${teamB}`);
		expect(await mention.locator(".mention-author").textContent()).toBe("Bob");
		expect(await mention.locator(".mention-excerpt").textContent()).toContain("hey @Ann");
		expect(await ann.page.locator("#tab-mentions-badge").textContent()).toBe("1");

		// Counts are read again on load: the same after a reload.
		await ann.page.reload();
		await ann.page.locator('#status[data-state="live"]').waitFor({ timeout: WAIT_MS });
		await eventually("team-b's badges after a reload", () => badges(ann.page, teamB), { unread: "1", mentions: "1" });
		await eventually("the tab title after a reload", () => ann.page.title(), "(3) Parley");

		// A click on a mention opens its room; reading it there clears its badges.
		await ann.page.locator("#tab-mentions").click();
		await ann.page.locator(`#mention-list li.mention-item[data-room="${teamB}"] button`).click();
		await ann.page
			.locator("#room-title")
			.filter({ hasText: `#${teamB}` })
			.waitFor({ timeout: WAIT_MS });
		await ann.page.locator('#status[data-state="live"]').waitFor({ timeout: WAIT_MS });
		await ann.page.bringToFront();
		await ann.page.locator("#text").focus();
		await ann.page.locator("#tab-rooms").click();
		await eventually("team-b's badges once read", () => badges(ann.page, teamB), { unread: "", mentions: "" });
		await eventually("the tab title once team-b is read", () => ann.page.title(), "(2) Parley");
		expect(await roomItem(ann.page, teamB).locator("button").getAttribute("aria-current")).toBe("page");

		// Ann starts a DM with Bob: her page switches to it, both lists show it under the other's name.
		await ann.page.locator("#dm-user").fill(bobId);
		await ann.page.locator("#dm-open").click();
		const dmHash = /^#(dm\.[0-9a-f]{40})$/;
		await eventually("Ann's page to open the DM", async () => dmHash.test(new URL(ann.page.url()).hash), true);
		const dm = dmHash.exec(new URL(ann.page.url()).hash)?.[1] ?? "";
		await ann.page.locator('#status[data-state="live"]').waitFor({ timeout: WAIT_MS });
		const annDm = roomItem(ann.page, dm);
		await annDm.waitFor({ timeout: WAIT_MS });
		expect(await annDm.getAttribute("data-kind")).toBe("dm");
		expect(await annDm.locator(".room-name").textContent()).toBe("@Bob");
		await say(ann.page, "hello Bob, just us");

		const bobDm = roomItem(bob.page, dm);
		await bobDm.waitFor({ timeout: WAIT_MS });
		await eventually("Bob's DM entry", async () => await bobDm.locator(".room-name").textContent(), "@Ann");
		await eventually("the DM's badges for Bob", () => badges(bob.page, dm), { unread: "1", mentions: "" });
		await eventually("Bob's tab title", () => bob.page.title(), "(1) Parley");

		// Bob opens it from his list, and reads Ann's message there.
		await bobDm.locator("button").click();
		await bob.page.locator("#timeline li.msg", { hasText: "hello Bob, just us" }).waitFor({ timeout: WAIT_MS });

		expect(problems).toEqual([]);
	});
});
