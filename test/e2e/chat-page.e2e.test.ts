/**
 * The chat page in headless Chromium against the real `wrangler dev`: two guests chat, one
 * goes offline while both keep writing, and both end with the same history.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { browserMissing, watchPage } from "../support/browser.ts";
import { browserSuite } from "../support/browser-suite.ts";
import { freshRoom, joinAsGuest, say } from "../support/chat-page.ts";
import { PROJECT_ROOT } from "../support/dev-server.ts";

const suite = browserSuite();
const { problems } = suite;

interface Row {
	seq: number;
	author: string;
	text: string;
	removed: boolean;
}

async function openAs(name: string, room: string): Promise<{ context: BrowserContext; page: Page }> {
	const context = await suite.context({ viewport: { width: 1000, height: 700 } });
	const page = await context.newPage();
	watchPage(page, problems, { label: name });
	await joinAsGuest(page, suite.server.url, room, name, 15_000);
	return { context, page };
}

async function rows(page: Page): Promise<Row[]> {
	return await page.locator("#timeline > li.msg").evaluateAll((items) =>
		items.map((li) => ({
			seq: Number(li.getAttribute("data-seq")),
			author: li.querySelector(".author")?.textContent ?? "",
			text: li.querySelector(".text")?.textContent ?? "",
			removed: li.classList.contains("removed"),
		})),
	);
}

async function waitForTexts(page: Page, texts: string[], timeoutMs = 20_000): Promise<Row[]> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const now = await rows(page);
		const seen = now.map((row) => row.text);
		if (texts.every((text) => seen.includes(text))) return now;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(texts)}; page shows ${JSON.stringify(seen)}`);
		await page.waitForTimeout(50);
	}
}

describe.skipIf(browserMissing)("chat page", () => {
	it("keeps two guests in sync through an offline spell, with no console errors", async () => {
		const room = freshRoom();
		const alice = await openAs("alice", room);
		const bob = await openAs("bob", room);
		await alice.page.locator("#online li", { hasText: "bob" }).waitFor();
		await bob.page.locator("#online li", { hasText: "alice" }).waitFor();
		expect(new URL(alice.page.url()).hash).toBe(`#${room}`);

		await say(alice.page, "hi bob");
		await say(bob.page, "hi alice <b>not bold</b>");
		await waitForTexts(alice.page, ["hi bob", "hi alice <b>not bold</b>"]);
		await waitForTexts(bob.page, ["hi bob", "hi alice <b>not bold</b>"]);
		// Rendered as text, never as markup.
		expect(await bob.page.locator("#timeline b").count()).toBe(0);
		expect(await alice.page.locator("#timeline li.mine .badge.sent").count()).toBe(1);

		// Bob loses the network. Both keep writing.
		await bob.context.setOffline(true);
		await bob.page.locator('#status[data-state="offline"]').waitFor({ timeout: 10_000 });
		expect(await bob.page.locator("#banner").isVisible()).toBe(true);
		await say(alice.page, "are you there?");
		await say(alice.page, "bob?");
		await say(bob.page, "typing on the train");
		await say(bob.page, "no signal here");
		await alice.page.locator("#online li", { hasText: "bob" }).waitFor({ state: "detached", timeout: 10_000 });
		await waitForTexts(alice.page, ["are you there?", "bob?"]);
		// Bob's messages wait as pending, visibly.
		expect(await bob.page.locator("#outgoing li.pending").count()).toBe(2);
		expect(await bob.page.locator("#outgoing li.pending .badge").first().textContent()).toMatch(/waiting/);
		expect((await rows(bob.page)).map((row) => row.text)).not.toContain("are you there?");
		mkdirSync(join(PROJECT_ROOT, "test-output"), { recursive: true });
		await bob.page.screenshot({ path: join(PROJECT_ROOT, "test-output", "chat-page-offline.png") });

		await bob.context.setOffline(false);
		await bob.page.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });
		const all = ["hi bob", "hi alice <b>not bold</b>", "are you there?", "bob?", "typing on the train", "no signal here"];
		await waitForTexts(bob.page, all);
		await waitForTexts(alice.page, all);
		await bob.page.locator("#outgoing li").first().waitFor({ state: "detached", timeout: 10_000 });
		await say(alice.page, "welcome back");
		await waitForTexts(bob.page, ["welcome back"]);
		await waitForTexts(alice.page, ["welcome back"]);
		await alice.page.locator("#online li", { hasText: "bob" }).waitFor();

		const aliceRows = await rows(alice.page);
		const bobRows = await rows(bob.page);
		expect(bobRows).toEqual(aliceRows);
		expect(aliceRows.map((row) => row.seq)).toEqual(aliceRows.map((_, i) => i + 1));
		expect(aliceRows.map((row) => row.text).sort()).toEqual([...all, "welcome back"].sort());
		// Each side's messages keep the order they were written in.
		const order = (who: string): string[] => aliceRows.filter((row) => row.author === who).map((row) => row.text);
		expect(order("bob")).toEqual(["hi alice <b>not bold</b>", "typing on the train", "no signal here"]);
		expect(order("alice")).toEqual(["hi bob", "are you there?", "bob?", "welcome back"]);

		// A reload rejoins the room from the URL and shows the same history.
		await bob.page.reload();
		await bob.page.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });
		await waitForTexts(bob.page, [...all, "welcome back"]);
		expect(await rows(bob.page)).toEqual(aliceRows);

		await alice.page.screenshot({ path: join(PROJECT_ROOT, "test-output", "chat-page.png") });
		await alice.context.close();
		await bob.context.close();
		expect(problems).toEqual([]);
	});

	it("deletes your own messages everywhere and shows a cross-post's outcome", async () => {
		const room = freshRoom();
		const other = freshRoom();
		const alice = await openAs("alice", room);
		const bob = await openAs("bob", room);

		await say(alice.page, "oops, wrong room");
		await waitForTexts(bob.page, ["oops, wrong room"]);
		expect(await bob.page.locator("#timeline li .delete").count()).toBe(0); // not bob's to delete
		await alice.page.locator("#timeline li", { hasText: "oops, wrong room" }).locator(".delete").click();
		await bob.page.locator("#timeline li.removed").waitFor({ timeout: 10_000 });
		await alice.page.locator("#timeline li.removed").waitFor({ timeout: 10_000 });
		expect(await bob.page.locator("#timeline li.removed .text").textContent()).toBe("Message deleted.");

		await alice.page.locator("#cross-post").fill(other);
		await say(alice.page, "news for everyone");
		const note = alice.page.locator("#timeline li", { hasText: "news for everyone" }).locator(".note");
		await note.and(alice.page.locator('[data-saga="succeeded"]')).waitFor({ timeout: 20_000 });
		expect(await note.textContent()).toContain(`#${other}`);
		const copy = await fetch(`${suite.server.url}/v1/rooms/${other}/events?guest=auditor`).then(
			(r) => r.json() as Promise<{ events: Array<{ text?: string }> }>,
		);
		expect(copy.events.map((e) => e.text)).toEqual(["news for everyone"]);

		await alice.context.close();
		await bob.context.close();
		expect(problems).toEqual([]);
	});

	it("stops and says so when the token is refused", async () => {
		const context = await suite.context();
		const page = await context.newPage();
		// Chromium logs the refused upgrade and the 401 probe as console errors; that is the
		// expected outcome here, so this page's console is not collected.
		const upgrades: string[] = [];
		page.on("websocket", (socket) => upgrades.push(socket.url()));
		await page.goto(`${suite.server.url}/#${freshRoom()}`);
		await page.locator("#join-mode").selectOption("token");
		await page.locator("#join-token").fill("not-a-token");
		await page.locator("#join-submit").click();
		await page.locator('#status[data-state="unauthorized"]').waitFor({ timeout: 15_000 });
		expect(await page.locator("#banner").textContent()).toMatch(/refused/);
		await page.waitForTimeout(1500);
		expect(upgrades.length).toBeLessThanOrEqual(2); // no retry storm
		await page.locator("#banner-action").click();
		await page.locator("#join-form").waitFor();
		await context.close();
	});
});
