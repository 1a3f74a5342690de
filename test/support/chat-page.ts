/**
 * What the chat page's browser tests share: the bundle built from the current sources, a
 * fresh room name, joining as a guest, and typing a message.
 */
import { execFileSync } from "node:child_process";
import type { Page } from "playwright-core";
import { PROJECT_ROOT } from "./dev-server.ts";

/** Builds public/app.js (and the console) from the sources, so the page under test is this tree's. */
export function buildPage(): void {
	execFileSync(process.execPath, ["scripts/build-client.mjs"], { cwd: PROJECT_ROOT, stdio: "pipe" });
}

export const freshRoom = (): string => `room-${crypto.randomUUID().slice(0, 8)}`;

/** Opens `${origin}/#room`, joins as guest `name` through the form, and waits for "live". */
export async function joinAsGuest(page: Page, origin: string, room: string, name: string, timeoutMs = 20_000): Promise<void> {
	await page.goto(`${origin}/#${room}`);
	await page.locator("#join-room").fill(room);
	await page.locator("#join-guest").fill(name);
	await page.locator("#join-submit").click();
	await page.locator('#status[data-state="live"]').waitFor({ timeout: timeoutMs });
}

/** Types `text` into the composer and sends it with Enter. */
export async function say(page: Page, text: string): Promise<void> {
	await page.locator("#text").fill(text);
	await page.locator("#text").press("Enter");
}
