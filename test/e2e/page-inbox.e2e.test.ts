/**
 * The chat page's view across rooms (v1.4) in headless Chromium against the real `wrangler dev`:
 * Ann and Bob each have a page open; Bob posts in two rooms Ann is in, one message mentioning
 * her, and Ann's room list shows the right unread and mention badges, her mentions view the
 * mention, and her tab title the unread total, live and again after a reload; opening a room
 * from the list switches to it; Ann opens a DM with Bob from the page and both see it in their
 * room lists, under the other's name. Posts the test makes itself go over HTTP, so what the
 * pages show is the only thing under test.
 *
 * A second test answers the inbox routes itself (the rooms are still the real server's), to
 * check what the page does with what an inbox sends, whatever the server's timing: repeated
 * frames, hostile names, older mention pages, the keyboard and a narrow screen.
 */
import type { Page, WebSocketRoute } from "playwright-core";
import { describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import type { InboxPage, InboxServerFrame, Mention, MentionsPage } from "../../src/inbox-protocol.ts";
import { browserMissing, watchPage } from "../support/browser.ts";
import { browserSuite } from "../support/browser-suite.ts";
import { freshRoom, say } from "../support/chat-page.ts";

/** Every wait of this file: long enough for an outbox task to be delivered, short enough to fail fast. */
const WAIT_MS = 30_000;

const suite = browserSuite();
const { problems } = suite;

interface Person {
	id: string;
	token: string;
	page: Page;
}

/** Opens the page at `#room` and joins with a token through the form, waiting until live. */
async function openAs(id: string, name: string, room: string): Promise<Person> {
	const token = await mintToken({ sub: id, name });
	const context = await suite.context({ viewport: { width: 1100, height: 750 }, locale: "en-US" });
	const page = await context.newPage();
	watchPage(page, problems, { label: name });
	await page.goto(`${suite.server.url}/#${room}`);
	await page.locator("#join-room").fill(room);
	await page.locator("#join-mode").selectOption("token");
	await page.locator("#join-token").fill(token);
	await page.locator("#join-submit").click();
	await page.locator('#status[data-state="live"]').waitFor({ timeout: WAIT_MS });
	return { id, token, page };
}

/** Posts over HTTP as the holder of `token`, and checks the server stored it. */
async function post(token: string, room: string, text: string): Promise<void> {
	const response = await fetch(`${suite.server.url}/v1/rooms/${room}/messages`, {
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
		expect(await ann.page.locator("#room-title").textContent()).toBe("@Bob");
		await say(ann.page, "hello Bob, just us");

		const bobDm = roomItem(bob.page, dm);
		await bobDm.waitFor({ timeout: WAIT_MS });
		await eventually("Bob's DM entry", async () => await bobDm.locator(".room-name").textContent(), "@Ann");
		await eventually("the DM's badges for Bob", () => badges(bob.page, dm), { unread: "1", mentions: "" });
		// Bob's other rooms may count Ann's first posts as unread: his title counts at least the DM.
		expect(await bob.page.title()).toMatch(/^\([1-9][0-9]*\) Parley$/);

		// Bob opens it from his list, and reads Ann's message there.
		await bobDm.locator("button").click();
		await bob.page.locator("#timeline li.msg", { hasText: "hello Bob, just us" }).waitFor({ timeout: WAIT_MS });

		expect(problems).toEqual([]);
	});

	it("shows what the inbox sends, escaped, once per frame, with the keyboard and on a narrow screen", async () => {
		const token = await mintToken({ sub: `carol-${crypto.randomUUID().slice(0, 6)}`, name: "Carol" });
		const home = freshRoom();
		const dm = "dm.0123456789abcdef0123456789abcdef01234567";
		const evil = { id: "mallory", name: '<img src=x onerror="window.pwned=1">' };
		const now = Date.now();
		const mention = (seq: number, ts: number): Mention => ({
			room: "team-a",
			msgId: `m${seq}`,
			seq,
			author: evil,
			excerpt: `<b>@Carol</b> number ${seq}`,
			ts,
		});
		const inbox: InboxPage = {
			user: { id: "carol", name: "Carol" },
			seq: 4,
			rooms: [
				{ room: "team-a", kind: "room", joinedAt: 1, lastSeq: 9, readSeq: 6, unread: 3, mentions: 1, last: null },
				{ room: home, kind: "room", joinedAt: 2, lastSeq: 0, readSeq: 0, unread: 0, mentions: 0, last: null },
			],
			unreadTotal: 3,
			mentionTotal: 1,
			mentions: [mention(8, now - 60_000)],
			before: "older-1",
		};
		const olderPage: MentionsPage = { mentions: [mention(2, now - 3_600_000)] };
		const sockets: WebSocketRoute[] = [];
		const context = await suite.context({ viewport: { width: 1100, height: 750 }, locale: "en-US" });
		const page = await context.newPage();
		const seen: string[] = [];
		watchPage(page, seen, { label: "Carol" });
		await page.route("**/v1/me/inbox", (route) => route.fulfill({ json: inbox }));
		await page.route("**/v1/me/mentions?**", (route) => route.fulfill({ json: olderPage }));
		await page.routeWebSocket(/\/v1\/me\/ws/, (ws) => {
			sockets.push(ws);
			ws.onMessage((message) => {
				if (message === "ping") ws.send("pong");
			});
			const frames: InboxServerFrame[] = [
				{ type: "inbox.welcome", user: inbox.user, seq: 4 },
				{ type: "inbox.synced", through: 4 },
			];
			for (const frame of frames) ws.send(JSON.stringify(frame));
		});
		const push = (frame: InboxServerFrame): void => sockets.at(-1)?.send(JSON.stringify(frame));

		await page.goto(`${suite.server.url}/#${home}`);
		await page.locator("#join-mode").selectOption("token");
		await page.locator("#join-token").fill(token);
		await page.locator("#join-submit").click();
		await page.locator('#status[data-state="live"]').waitFor({ timeout: WAIT_MS });
		await eventually("the first page's badges", () => badges(page, "team-a"), { unread: "3", mentions: "1" });
		expect(await page.title()).toBe("(3) Parley");
		await eventually("the inbox socket", async () => sockets.length, 1);

		// A new mention, sent twice (a resume repeats it): listed and counted once.
		for (let i = 0; i < 2; i++) push({ type: "mention", seq: 5, mention: mention(10, now) });
		// A DM whose other user has a hostile name, and counts for it.
		push({ type: "room.joined", seq: 6, room: dm, kind: "dm", with: evil, joinedAt: now });
		push({ type: "unread", room: dm, lastSeq: 1, readSeq: 0, unread: 1, mentions: 0, last: null });
		await eventually("team-a's mention badge", () => badges(page, "team-a"), { unread: "3", mentions: "2" });
		await eventually("the DM's badges", () => badges(page, dm), { unread: "1", mentions: "" });
		expect(await page.title()).toBe("(4) Parley");
		expect(await roomItem(page, dm).locator(".room-name").textContent()).toBe(`@${evil.name}`);
		// Unread rooms first: the DM (newest) and team-a before the quiet home room.
		const order = await page.locator("#room-list li.room-item").evaluateAll((items) => items.map((li) => li.getAttribute("data-room")));
		expect(order).toEqual([dm, "team-a", home]);

		// The keyboard reaches the mentions tab; the mentions are escaped text, newest first.
		await page.locator("#tab-rooms").focus();
		await page.keyboard.press("ArrowRight");
		expect(await page.locator("#tab-mentions").getAttribute("aria-selected")).toBe("true");
		expect(await page.locator("#mentions-panel").isVisible()).toBe(true);
		const excerpts = () => page.locator("#mention-list .mention-excerpt").allTextContents();
		expect(await excerpts()).toEqual(["<b>@Carol</b> number 10", "<b>@Carol</b> number 8"]);
		await page.locator("#mentions-older").click();
		await eventually("the older page", excerpts, ["<b>@Carol</b> number 10", "<b>@Carol</b> number 8", "<b>@Carol</b> number 2"]);
		expect(await page.locator("#mentions-older").isVisible()).toBe(false);
		expect(await page.locator("#inbox img, #inbox b").count()).toBe(0);
		expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();

		// A removed mention leaves the list and its count; a mention.removed for one never seen changes nothing.
		push({ type: "mention.removed", seq: 7, room: "team-a", msgId: "m10" });
		push({ type: "mention.removed", seq: 8, room: "team-a", msgId: "never-seen" });
		await eventually("the list without the removed mention", excerpts, ["<b>@Carol</b> number 8", "<b>@Carol</b> number 2"]);
		expect(await page.locator("#tab-mentions-badge").textContent()).toBe("1");

		// Enter on a room opens it, as a click does.
		await page.locator("#tab-rooms").click();
		await roomItem(page, "team-a").locator("button").focus();
		// New counts rebuild the list; the keyboard stays on the same room.
		push({ type: "unread", room: "team-a", lastSeq: 11, readSeq: 6, unread: 5, mentions: 1, last: null });
		await eventually("team-a's new counts", () => badges(page, "team-a"), { unread: "5", mentions: "1" });
		expect(
			await roomItem(page, "team-a")
				.locator("button")
				.evaluate((button) => button.ownerDocument.activeElement === button),
		).toBe(true);
		await page.keyboard.press("Enter");
		await page.locator("#room-title").filter({ hasText: "#team-a" }).waitFor({ timeout: WAIT_MS });
		expect(new URL(page.url()).hash).toBe("#team-a");

		// Narrow: the list opens from the top bar and closes once a room is chosen.
		await page.setViewportSize({ width: 400, height: 700 });
		expect(await page.locator("#inbox").isVisible()).toBe(false);
		await page.locator("#inbox-toggle").click();
		expect(await page.locator("#inbox-toggle").getAttribute("aria-expanded")).toBe("true");
		await roomItem(page, home).locator("button").click();
		await page
			.locator("#room-title")
			.filter({ hasText: `#${home}` })
			.waitFor({ timeout: WAIT_MS });
		expect(await page.locator("#inbox").isVisible()).toBe(false);
		expect(await page.locator("html").evaluate((root) => root.scrollWidth)).toBeLessThanOrEqual(400);

		expect(seen).toEqual([]);
	});
});
