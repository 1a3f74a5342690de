/**
 * The chat page's composer and what it says about messages that cannot be stored, in headless
 * Chromium against the real `wrangler dev` with the default rate limit. Every outcome is
 * checked against the room's stored history, not only against the page.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import type { EventsPage } from "../../src/protocol.ts";
import { apiCaller, until } from "../support/api.ts";
import { browserMissing, watchPage } from "../support/browser.ts";
import { browserSuite } from "../support/browser-suite.ts";
import { freshRoom, joinAsGuest, say } from "../support/chat-page.ts";

const suite = browserSuite({ vars: { RATE_LIMIT_PER_SEC: "10" } });
const { problems } = suite;
const admin = apiCaller(() => suite.server.url, await mintToken({ sub: "ops", name: "Ops", role: "admin" }));

interface Joined {
	page: Page;
	/** Sockets opened and `welcome` frames received, to tell a reconnect happened. */
	sockets: () => number;
	welcomes: () => number;
}

async function openAs(name: string, room: string): Promise<Joined> {
	const context = await suite.context({ viewport: { width: 1000, height: 700 }, locale: "en-US" });
	const page = await context.newPage();
	watchPage(page, problems, { label: name });
	let sockets = 0;
	let welcomes = 0;
	page.on("websocket", (socket) => {
		sockets++;
		socket.on("framereceived", (frame) => {
			if (typeof frame.payload === "string" && frame.payload.includes('"type":"welcome"')) welcomes++;
		});
	});
	await joinAsGuest(page, suite.server.url, room, name, 15_000);
	return { page, sockets: () => sockets, welcomes: () => welcomes };
}

async function storedTexts(room: string): Promise<string[]> {
	const response = await fetch(`${suite.server.url}/v1/rooms/${room}/events?after=0&limit=500&guest=auditor`);
	expect(response.status).toBe(200);
	const page = (await response.json()) as EventsPage;
	return page.events.flatMap((event) => (event.type === "message" ? [event.text] : []));
}

/** Waits for the room's stored history to be exactly `texts`, in that order. */
async function expectStored(room: string, texts: string[]): Promise<void> {
	await until(`the room to hold ${JSON.stringify(texts)}`, async () => {
		const stored = await storedTexts(room);
		return stored.length >= texts.length ? stored : undefined;
	});
	expect(await storedTexts(room)).toEqual(texts);
}

describe.skipIf(browserMissing)("chat page composer", () => {
	it("keeps a 20,000-character paste in the composer, says why, and sends the next message on the same socket", async () => {
		const room = freshRoom();
		const erin = await openAs("erin", room);
		const { page } = erin;
		const counter = page.locator("#counter");
		const hint = page.locator("#composer-hint");

		// Near the limit: a warning, still sendable.
		await page.locator("#text").fill("n".repeat(3980));
		expect(await counter.textContent()).toBe("3,980 / 4,000");
		expect(await counter.getAttribute("data-state")).toBe("near");
		expect(await page.locator("#send").isEnabled()).toBe(true);

		const poison = `${"poison ".repeat(2857)}x`; // 20,000 characters
		expect(poison.length).toBe(20_000);
		await page.locator("#text").fill(poison);
		expect(await counter.textContent()).toBe("20,000 / 4,000");
		expect(await counter.getAttribute("data-state")).toBe("over");
		expect(await hint.textContent()).toMatch(/Too long to send: 20,000 characters, the limit is 4,000/);
		expect(await page.locator("#send").isDisabled()).toBe(true);
		await page.locator("#text").press("Enter");
		await page.locator("#send").click({ force: true }); // a disabled button does nothing either
		expect(await page.locator("#text").inputValue()).toBe(poison);
		expect(await page.locator("#outgoing li").count()).toBe(0);
		expect(await hint.isVisible()).toBe(true);

		// A message sent right after goes out on the same socket: no reconnect, no refusal.
		await say(page, "after the poison");
		await page.locator("#timeline li.mine", { hasText: "after the poison" }).locator(".badge.sent").waitFor({ timeout: 15_000 });
		await expectStored(room, ["after the poison"]);
		expect(await page.locator("#outgoing li").count()).toBe(0);
		expect(await page.locator("#status").getAttribute("data-state")).toBe("live");
		expect(erin.sockets()).toBe(1);
		expect(erin.welcomes()).toBe(1);
		expect(problems).toEqual([]);
	});

	it("says why whitespace is not sent", async () => {
		const room = freshRoom();
		const { page } = await openAs("gina", room);
		await page.locator("#text").fill("   \n  ");
		await page.locator("#text").press("Enter");
		expect(await page.locator("#composer-hint").textContent()).toMatch(/A message needs some text/);
		expect(await page.locator("#send").isDisabled()).toBe(true);
		expect(await page.locator("#outgoing li").count()).toBe(0);
		// Empty again: nothing to explain.
		await page.locator("#text").fill("");
		expect(await page.locator("#composer-hint").isHidden()).toBe(true);
		await say(page, "real text");
		await expectStored(room, ["real text"]);
		expect(problems).toEqual([]);
	});

	it("shows a message refused for good (read-only room) with why, Edit and Discard, and no Retry", async () => {
		const room = freshRoom();
		const { page } = await openAs("hana", room);
		await admin(`/v1/admin/rooms/${room}/policy`, { method: "PUT", body: { readOnly: true } });

		await say(page, "while read-only");
		const failed = page.locator("#outgoing li.failed", { hasText: "while read-only" });
		await failed.waitFor({ timeout: 15_000 });
		expect(await failed.locator(".badge").textContent()).toMatch(/not sent: .*read-only/);
		expect(await failed.getAttribute("data-error")).toBe("read_only");
		expect(await failed.locator("button").allTextContents()).toEqual(["Edit", "Discard"]);
		// Not "Live" with a failed bubble pretending to be queued: nothing is waiting any more.
		expect(await page.locator("#status").getAttribute("data-queue")).toBeNull();

		// Edit puts the text back and removes the bubble.
		await failed.locator("button.edit").click();
		expect(await page.locator("#text").inputValue()).toBe("while read-only");
		expect(await page.locator("#outgoing li").count()).toBe(0);

		// Sent again, refused again; Discard removes it.
		await page.locator("#text").press("Enter");
		await failed.waitFor({ timeout: 15_000 });
		await failed.locator("button.discard").click();
		expect(await page.locator("#outgoing li").count()).toBe(0);
		expect(await storedTexts(room)).toEqual([]);

		// The socket survived the refusals: once writable, the room takes the next message.
		await admin(`/v1/admin/rooms/${room}/policy`, { method: "PUT", body: { readOnly: false } });
		await say(page, "open again");
		await expectStored(room, ["open again"]);
		expect(problems).toEqual([]);
	});

	it("takes #Room names, offers a fix for bad ones, and tags guests in right-to-left friendly bubbles", async () => {
		const room = freshRoom();
		const context = await suite.context({ viewport: { width: 1000, height: 700 }, locale: "en-US" });
		const page = await context.newPage();
		watchPage(page, problems, { label: "join" });
		await page.goto(`${suite.server.url}/`);
		expect(await page.locator("#guest-field").textContent()).toMatch(/same guest name is the same guest/);

		await page.locator("#join-room").fill("My Room!");
		await page.locator("#join-guest").fill("ivan");
		await page.locator("#join-submit").click();
		expect(await page.locator("#join-error").isVisible()).toBe(true);
		expect(await page.locator("#join-suggest").textContent()).toMatch(/Did you mean #my-room\?/);
		await page.locator("#join-suggest-use").click();
		expect(await page.locator("#join-room").inputValue()).toBe("my-room");

		await page.locator("#join-room").fill(`#${room.toUpperCase()}`);
		await page.locator("#join-submit").click();
		await page.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });
		expect(new URL(page.url()).hash).toBe(`#${room}`);
		expect(await page.locator("#room-title").textContent()).toBe(`#${room}`);
		expect(await page.locator("#notice").textContent()).toMatch(/lower case/);

		const bob = await openAs("bob", room);
		const arabic = "مرحبا بالجميع، كيف حالكم اليوم؟";
		await say(page, arabic);
		await say(page, "hi");
		const theirs = bob.page.locator("#timeline li", { hasText: arabic });
		await theirs.waitFor({ timeout: 15_000 });
		await bob.page.locator("#timeline li", { hasText: "hi" }).waitFor({ timeout: 15_000 });
		expect(await theirs.locator(".text").getAttribute("dir")).toBe("auto");
		expect(await theirs.locator(".author").getAttribute("dir")).toBe("auto");
		expect(await theirs.locator(".text").evaluate((node) => node.ownerDocument.defaultView.getComputedStyle(node).direction)).toBe(
			"rtl",
		);
		expect(await theirs.locator(".tag.guest").textContent()).toBe("guest");
		await bob.page.locator("#online li", { hasText: "ivan" }).locator(".tag.guest").waitFor();

		// Someone else's short message is a short bubble, like your own.
		const timelineWidth = (await bob.page.locator("#timeline").boundingBox())?.width ?? 0;
		const shortBubble = (await bob.page.locator("#timeline li").last().boundingBox())?.width ?? timelineWidth;
		expect(shortBubble).toBeLessThan(timelineWidth / 2);
		// "✓ sent" sits right after the time, not pushed to the far edge.
		const mine = page.locator("#timeline li.mine", { hasText: arabic });
		const time = await mine.locator("time").boundingBox();
		const sent = await mine.locator(".badge.sent").boundingBox();
		expect((sent?.x ?? 0) - ((time?.x ?? 0) + (time?.width ?? 0))).toBeLessThan(16);

		await page.locator("#text").fill("n".repeat(3990));
		await page.screenshot({ path: "/tmp/page.png" });
		await bob.page.screenshot({ path: "/tmp/page-other.png" });
		expect(problems).toEqual([]);
	});
});
