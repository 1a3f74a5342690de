/**
 * The chat page's v1.3 features in headless Chromium against the real `wrangler dev`: two
 * people (two browser contexts) edit (with the button and with up-arrow), reply with a quote,
 * react, mention with `@` autocomplete, see each other typing, find the unread divider where
 * they left off and a "seen by" line, get only safe links, delete with undo, and load older
 * history by scrolling up. Every outcome is checked against what the server stored (HTTP).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { EventsPage, MessageEvent, RoomEvent } from "../../src/protocol.ts";
import { TYPING_EXPIRY_MS } from "../../src/protocol.ts";
import { until } from "../support/api.ts";
import { browserMissing, watchPage } from "../support/browser.ts";
import { browserSuite } from "../support/browser-suite.ts";
import { freshRoom, joinAsGuest, say } from "../support/chat-page.ts";
import { PROJECT_ROOT } from "../support/dev-server.ts";

const suite = browserSuite();
const { problems } = suite;

interface Person {
	context: BrowserContext;
	page: Page;
}

async function openAs(name: string, room: string, width = 1000): Promise<Person> {
	const context = await suite.context({ viewport: { width, height: 700 }, locale: "en-US" });
	const page = await context.newPage();
	watchPage(page, problems, { label: name });
	await joinAsGuest(page, suite.server.url, room, name, 20_000);
	return { context, page };
}

/** The message on screen whose text contains `text`. */
const bubble = (page: Page, text: string) => page.locator("#timeline li.msg", { hasText: text });

/** Waits until every text is on screen as a stored message (not a pending bubble). */
async function waitForTexts(page: Page, texts: string[]): Promise<void> {
	for (const text of texts) await bubble(page, text).first().waitFor({ timeout: 20_000 });
}

/** The room's log as the server stored it, read as `reader` (reactions' `mine` is the reader's). */
async function storedEvents(room: string, reader = "auditor"): Promise<RoomEvent[]> {
	const events: RoomEvent[] = [];
	for (let after = 0; ; ) {
		const response = await fetch(`${suite.server.url}/v1/rooms/${room}/events?after=${after}&limit=500&guest=${reader}`);
		expect(response.status).toBe(200);
		const page = (await response.json()) as EventsPage;
		events.push(...page.events);
		const last = page.events.at(-1);
		if (last === undefined || page.events.length < 500) return events;
		after = last.seq;
	}
}

async function storedMessages(room: string, reader = "auditor"): Promise<MessageEvent[]> {
	return (await storedEvents(room, reader)).filter((event): event is MessageEvent => event.type === "message");
}

/** Waits for the stored message with `text` (the latest text, for an edited one) to satisfy `check`. */
async function storedMessage(
	room: string,
	text: string,
	check: (message: MessageEvent) => boolean = () => true,
	reader = "auditor",
): Promise<MessageEvent> {
	return await until(
		`a stored message "${text}" as expected`,
		async () => (await storedMessages(room, reader)).find((message) => message.text === text && check(message)),
		20_000,
	);
}

/** For a person to look at (test-output/ is not committed). */
async function screenshot(page: Page, name: string): Promise<void> {
	mkdirSync(join(PROJECT_ROOT, "test-output"), { recursive: true });
	await page.screenshot({ path: join(PROJECT_ROOT, "test-output", name) });
}

describe.skipIf(browserMissing)("chat page features", () => {
	it("edits with the button and with up-arrow, replies with a quote, mentions with autocomplete", async () => {
		const room = freshRoom();
		const alice = await openAs("alice", room);
		const bob = await openAs("bob", room);
		await alice.page.locator("#online li", { hasText: "bob" }).waitFor();

		await say(alice.page, "morning all");
		await say(bob.page, "hi alice");
		await waitForTexts(alice.page, ["morning all", "hi alice"]);

		// Mention with autocomplete: "@b" offers bob (seen in the room); Enter takes him.
		await alice.page.locator("#text").focus();
		await alice.page.locator("#text").pressSequentially("can you check this @b");
		const option = alice.page.locator("#mentions [role=option]", { hasText: "bob" });
		await option.waitFor();
		expect(await alice.page.locator("#text").getAttribute("aria-activedescendant")).toBe(await option.getAttribute("id"));
		await alice.page.locator("#text").press("Enter");
		expect(await alice.page.locator("#text").inputValue()).toBe("can you check this @bob ");
		expect(await alice.page.locator("#mentions").isHidden()).toBe(true);
		await alice.page.locator("#text").pressSequentially("please");
		await alice.page.locator("#text").press("Enter");
		const mention = await storedMessage(room, "can you check this @bob please");
		expect(mention.mentions).toEqual(["guest:bob"]);
		// For bob the mention of him stands out; for alice it is a plain mention.
		const bobSees = bubble(bob.page, "can you check this");
		await bobSees.locator(".mention.me", { hasText: "@bob" }).waitFor({ timeout: 15_000 });
		expect(await bobSees.getAttribute("class")).toContain("mentions-me");
		await bubble(alice.page, "can you check this").locator(".mention", { hasText: "@bob" }).waitFor();
		expect(await bubble(alice.page, "can you check this").locator(".mention.me").count()).toBe(0);

		// Reply with a quote of the original.
		await bobSees.hover();
		await bobSees.locator(".reply").click();
		expect(await bob.page.locator("#composer-context").textContent()).toContain("Replying to alice");
		await say(bob.page, "on it");
		const reply = await storedMessage(room, "on it", (message) => message.replyTo !== undefined);
		expect(reply.replyTo).toMatchObject({ msgId: mention.msgId, author: { id: "guest:alice" } });
		expect(reply.replyTo?.excerpt).toBe("can you check this @bob please");
		const quote = bubble(alice.page, "on it").locator(".quote");
		await quote.waitFor({ timeout: 15_000 });
		expect(await quote.locator(".quote-author").textContent()).toBe("alice");
		expect(await quote.locator(".quote-text").textContent()).toBe("can you check this @bob please");
		expect(await bob.page.locator("#composer-context").isHidden()).toBe(true);
		// A click on the quote takes you to the original.
		await quote.click();
		await alice.page.locator(`#timeline li.msg.flash[data-msgid="${mention.msgId}"]`).waitFor();

		// Edit with the button: Enter saves; everyone sees the new text and an "edited" mark.
		const bobReply = bubble(bob.page, "on it");
		await bobReply.hover();
		await bobReply.locator(".edit").click();
		expect(await bob.page.locator("#text").inputValue()).toBe("on it");
		expect(await bob.page.locator("#send").textContent()).toBe("Save");
		await bob.page.locator("#text").fill("on it, give me ten minutes");
		await bob.page.locator("#text").press("Enter");
		const edited = await storedMessage(room, "on it, give me ten minutes");
		expect(edited.msgId).toBe(reply.msgId);
		expect(edited.editSeq).toBeGreaterThan(edited.seq);
		expect(edited.editedAt).toBeGreaterThan(0);
		await bubble(alice.page, "on it, give me ten minutes").locator(".edited").waitFor({ timeout: 15_000 });
		expect(await bubble(alice.page, "on it, give me ten minutes").locator(".edited").textContent()).toMatch(/^edited \d\d:\d\d/);
		expect(await bob.page.locator("#text").inputValue()).toBe("");
		expect(await bob.page.locator("#send").textContent()).toBe("Send");

		// Up-arrow in an empty composer edits your last message; Escape leaves it as it was.
		await alice.page.locator("#text").focus();
		await alice.page.locator("#text").press("ArrowUp");
		expect(await alice.page.locator("#text").inputValue()).toBe("can you check this @bob please");
		await alice.page.locator("#text").press("Escape");
		expect(await alice.page.locator("#text").inputValue()).toBe("");
		await alice.page.locator("#text").press("ArrowUp");
		await alice.page.locator("#text").fill("can you check this @bob, when you can?");
		await alice.page.locator("#text").press("Enter");
		const reworded = await storedMessage(room, "can you check this @bob, when you can?");
		expect(reworded.msgId).toBe(mention.msgId);
		expect(reworded.mentions).toEqual(["guest:bob"]);
		await bubble(bob.page, "when you can?").locator(".edited").waitFor({ timeout: 15_000 });
		// One edit stored for each Enter, none for the Escape.
		const edits = (await storedEvents(room)).filter((event) => event.type === "message.edited");
		expect(edits.map((event) => (event.type === "message.edited" ? event.text : ""))).toEqual([
			"on it, give me ten minutes",
			"can you check this @bob, when you can?",
		]);
		// The quote keeps the text it was made with.
		expect(await bubble(alice.page, "ten minutes").locator(".quote-text").textContent()).toBe("can you check this @bob please");
		await screenshot(bob.page, "chat-features.png");

		expect(problems).toEqual([]);
	});

	it("reacts with the picker and toggles chips, highlighted when yours", async () => {
		const room = freshRoom();
		const alice = await openAs("alice", room);
		const bob = await openAs("bob", room);
		await say(alice.page, "shipping today");
		await waitForTexts(bob.page, ["shipping today"]);

		const mine = bubble(alice.page, "shipping today");
		await mine.hover();
		await mine.locator(".react").click();
		expect(await mine.locator(".react").getAttribute("aria-expanded")).toBe("true");
		await mine.locator('.picker [data-emoji="🎉"]').click();
		const aliceChip = mine.locator('.chip[data-emoji="🎉"]');
		const bobChip = bubble(bob.page, "shipping today").locator('.chip[data-emoji="🎉"]');
		await aliceChip.waitFor({ timeout: 15_000 });
		await bobChip.waitFor({ timeout: 15_000 });
		expect(await aliceChip.getAttribute("aria-pressed")).toBe("true");
		expect(await bobChip.getAttribute("aria-pressed")).toBe("false");

		// The picker works from the keyboard: Enter opens it on its first emoji, Escape closes it.
		const bobReact = bubble(bob.page, "shipping today").locator(".react");
		await bobReact.focus();
		await bobReact.press("Enter");
		const bobPicker = bubble(bob.page, "shipping today").locator(".picker");
		await bobPicker.waitFor();
		expect(await bob.page.locator(":focus").getAttribute("data-emoji")).toBe("👍");
		await bob.page.keyboard.press("Escape");
		await bobPicker.waitFor({ state: "hidden" });
		expect(await bobReact.getAttribute("aria-expanded")).toBe("false");
		expect(await bob.page.locator(":focus").getAttribute("class")).toBe("link react");

		// Bob adds his with the chip itself.
		await bobChip.click();
		await until("bob's reaction on both pages", async () =>
			(await aliceChip.locator(".count").textContent()) === "2" && (await bobChip.getAttribute("aria-pressed")) === "true"
				? true
				: undefined,
		);
		const asBob = await storedMessage(room, "shipping today", (m) => m.reactions?.[0]?.count === 2, "bob");
		expect(asBob.reactions).toEqual([{ emoji: "🎉", count: 2, mine: true }]);

		// Alice takes hers back: the count drops and her chip is no longer pressed.
		await aliceChip.click();
		await until("alice's reaction removed", async () =>
			(await bobChip.locator(".count").textContent()) === "1" && (await aliceChip.getAttribute("aria-pressed")) === "false"
				? true
				: undefined,
		);
		const asAlice = await storedMessage(room, "shipping today", (m) => m.reactions?.[0]?.count === 1, "alice");
		expect(asAlice.reactions).toEqual([{ emoji: "🎉", count: 1, mine: false }]);

		// A reload shows the counts as stored, not counted twice.
		await bob.page.reload();
		await bob.page.locator('#status[data-state="live"]').waitFor({ timeout: 20_000 });
		const reloaded = bubble(bob.page, "shipping today").locator('.chip[data-emoji="🎉"]');
		await reloaded.waitFor();
		expect(await reloaded.locator(".count").textContent()).toBe("1");
		expect(await reloaded.getAttribute("aria-pressed")).toBe("true");
		expect(problems).toEqual([]);
	});

	it("shows who is typing and lets it expire; marks unread where you left off, and who has seen what", async () => {
		const room = freshRoom();
		const alice = await openAs("alice", room);
		let bob = await openAs("bob", room);
		await say(alice.page, "are you around?");
		await waitForTexts(bob.page, ["are you around?"]);

		// Bob types without sending: alice sees it, and it goes after TYPING_EXPIRY_MS.
		await bob.page.locator("#text").pressSequentially("let me th");
		await alice.page.locator("#typing", { hasText: "bob is typing…" }).waitFor({ timeout: 10_000 });
		const shownAt = Date.now();
		await alice.page.waitForTimeout(TYPING_EXPIRY_MS / 2);
		expect(await alice.page.locator("#typing").textContent()).toBe("bob is typing…");
		await until(
			"the typing line to expire",
			async () => ((await alice.page.locator("#typing").textContent()) === "" ? true : undefined),
			TYPING_EXPIRY_MS + 5000,
		);
		expect(Date.now() - shownAt).toBeGreaterThanOrEqual(TYPING_EXPIRY_MS - 3500);
		// Bob's own page never says he is typing.
		expect(await bob.page.locator("#typing").textContent()).toBe("");

		// Bob has read alice's message (his page is in front): alice sees "Seen by bob" under it.
		const seen = bubble(alice.page, "are you around?").locator(".seen-by");
		await seen.waitFor({ timeout: 15_000 });
		expect(await seen.textContent()).toBe("Seen by bob");
		await bob.page.locator("#text").fill("");

		// Bob leaves; alice writes on. Back, bob finds the divider before the first new message.
		await bob.context.close();
		await say(alice.page, "news one");
		await say(alice.page, "news two");
		await storedMessage(room, "news two");
		bob = await openAs("bob", room);
		await waitForTexts(bob.page, ["news one", "news two"]);
		const divider = bob.page.locator("#timeline .unread-divider");
		await divider.waitFor();
		const first = await storedMessage(room, "news one");
		const after = bob.page.locator("#timeline .unread-divider + li.msg");
		expect(await after.getAttribute("data-seq")).toBe(String(first.seq));
		expect(await divider.textContent()).toBe("2 new messages");

		// Bob's page reads them: the "seen by" line moves under the latest.
		await bubble(alice.page, "news two").locator(".seen-by", { hasText: "Seen by bob" }).waitFor({ timeout: 15_000 });
		expect(await alice.page.locator("#timeline .seen-by").count()).toBe(1);
		expect(problems).toEqual([]);
	});

	it("makes only http(s) links, safely, shows inline code, groups messages and separates days", async () => {
		const room = freshRoom();
		const alice = await openAs("alice", room);
		const bob = await openAs("bob", room);
		const text = "docs at https://example.com/a?b=1, not javascript:alert(1) nor <a href=x>x</a>; run `npm test`";
		await say(alice.page, text);
		await say(alice.page, "and again");
		await waitForTexts(bob.page, ["docs at", "and again"]);
		const shown = bubble(bob.page, "docs at");
		// Everything shows as typed, but for the backticks around code.
		expect(await shown.locator(".text").textContent()).toBe(text.replaceAll("`", ""));
		const links = shown.locator(".text a");
		expect(await links.count()).toBe(1);
		expect(await links.getAttribute("href")).toBe("https://example.com/a?b=1");
		expect(await links.getAttribute("rel")).toBe("noopener noreferrer nofollow");
		expect(await links.getAttribute("target")).toBe("_blank");
		expect(await links.textContent()).toBe("https://example.com/a?b=1");
		expect(await bob.page.locator('#timeline a[href^="javascript"], #timeline a[href="x"]').count()).toBe(0);
		expect(await shown.locator(".text code").textContent()).toBe("npm test");
		// Stored as typed: the page formats, the server keeps the text.
		await storedMessage(room, text);

		// Two in a row from alice: one header; one date separator for today.
		expect(await bubble(bob.page, "and again").getAttribute("class")).toContain("grouped");
		expect(await shown.getAttribute("class")).not.toContain("grouped");
		expect(await bob.page.locator("#timeline .day").allTextContents()).toEqual(["Today"]);

		// Narrow screens: every action stays on screen and reachable.
		await bob.page.setViewportSize({ width: 360, height: 700 });
		const reply = bubble(bob.page, "and again").locator(".reply");
		await reply.focus();
		const box = await reply.boundingBox();
		expect(box === null ? -1 : box.x + box.width).toBeLessThanOrEqual(360);
		await screenshot(bob.page, "chat-features-narrow.png");
		// Nothing wider than the screen: no sideways scrolling.
		expect(await bob.page.locator("html").evaluate((root) => root.scrollWidth)).toBeLessThanOrEqual(360);
		expect(problems).toEqual([]);
	});

	it("deletes after an undo window, and not at all when undone", async () => {
		const room = freshRoom();
		const alice = await openAs("alice", room);
		const bob = await openAs("bob", room);
		await say(alice.page, "keep me");
		await say(alice.page, "delete me");
		await waitForTexts(bob.page, ["keep me", "delete me"]);

		const keep = bubble(alice.page, "keep me");
		await keep.hover();
		await keep.locator(".delete").click();
		await keep.locator(".undo").click();
		await alice.page.waitForTimeout(6500);
		expect((await storedEvents(room)).filter((event) => event.type === "retract")).toEqual([]);
		expect(await keep.getAttribute("class")).not.toContain("removed");

		const target = await storedMessage(room, "delete me");
		const doomed = bubble(alice.page, "delete me");
		await doomed.hover();
		await doomed.locator(".delete").click();
		await doomed.locator(".undo-bar").waitFor();
		await bob.page.locator(`#timeline li.removed[data-msgid="${target.msgId}"]`).waitFor({ timeout: 15_000 });
		const retracts = (await storedEvents(room)).filter((event) => event.type === "retract");
		expect(retracts.map((event) => (event.type === "retract" ? event.msgId : ""))).toEqual([target.msgId]);
		expect(problems).toEqual([]);
	});

	it("loads older history as you scroll up, keeping your place", async () => {
		const room = freshRoom();
		// 130 messages from seven writers (each under its own rate-limit burst), in order.
		const texts = Array.from({ length: 130 }, (_, i) => `old ${String(i + 1).padStart(3, "0")}`);
		for (const [i, text] of texts.entries()) {
			const response = await fetch(`${suite.server.url}/v1/rooms/${room}/messages?guest=writer${i % 7}`, {
				method: "POST",
				headers: { "content-type": "application/json" },
				body: JSON.stringify({ id: `seed-${i}`, text }),
			});
			expect(response.status).toBe(201);
		}
		// Bob has never read the room: no divider, the page opens at the bottom.
		const bob = await openAs("bob", room);
		await waitForTexts(bob.page, ["old 130"]);
		expect(await bob.page.locator("#timeline .unread-divider").count()).toBe(0);
		const count = () => bob.page.locator("#timeline li.msg").count();
		const firstShown = async () => (await bob.page.locator("#timeline li.msg .text").first().textContent()) ?? "";
		expect(await count()).toBeLessThan(130);

		// Scroll to the top: the page before comes in, and what was at the top stays in view.
		for (let round = 0; round < 6 && (await count()) < 130; round++) {
			const anchor = await firstShown();
			const before = await count();
			await bob.page.locator("#scroller").evaluate((scroller) => {
				scroller.scrollTop = 0;
			});
			await until("an older page", async () => ((await count()) > before ? true : undefined), 15_000);
			const box = await bubble(bob.page, anchor).first().boundingBox();
			const scroller = await bob.page.locator("#scroller").boundingBox();
			expect(box).not.toBeNull();
			expect(scroller).not.toBeNull();
			if (box !== null && scroller !== null) {
				expect(box.y).toBeGreaterThanOrEqual(scroller.y - 1);
				expect(box.y).toBeLessThan(scroller.y + scroller.height);
			}
		}
		expect(await bob.page.locator("#timeline li.msg .text").allTextContents()).toEqual(
			(await storedMessages(room)).map((message) => message.text),
		);
		expect(await bob.page.locator("#timeline li.msg .text").allTextContents()).toEqual(texts);
		await bob.page.locator("#load-older").waitFor({ state: "hidden" });
		expect(problems).toEqual([]);
	});
});
