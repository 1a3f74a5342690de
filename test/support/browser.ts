/**
 * Headless Debian Chromium for the browser tests (never a downloaded browser). The flags keep
 * it off the network beyond loopback: without the background-networking ones it tries to
 * reach Google's hosts at every start.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Browser tests need Debian's chromium, which `.ci/run` installs. On a machine without it
 * they are skipped, saying so, rather than failing `npm test`; in CI they always run.
 */
export const browserMissing = !existsSync(CHROMIUM_PATH) && process.env.CI !== "true";
if (browserMissing) console.warn(`browser tests skipped: no ${CHROMIUM_PATH} (apt-get install chromium)`);

export async function launchChromium(): Promise<Browser> {
	return await chromium.launch({
		executablePath: CHROMIUM_PATH,
		args: [
			"--headless",
			"--no-sandbox",
			"--disable-gpu",
			"--disable-quic",
			"--no-first-run",
			"--disable-background-networking",
			"--disable-component-update",
			"--disable-sync",
		],
	});
}

export interface WatchOptions {
	/** Prefix for every problem, to tell pages apart. */
	label?: string;
	/** Console errors the test expects (Chromium logs every non-2xx fetch as one). */
	expected?: RegExp;
	/** Called for each expected console error, so a test can count them. */
	onExpected?: () => void;
	/** Also record failed requests, except those cut short by our own navigation. */
	failedRequests?: boolean;
}

/** Records a page's console errors, page errors and (optionally) failed requests as problems. */
export function watchPage(page: Page, problems: string[], options: WatchOptions = {}): void {
	const prefix = options.label === undefined ? "" : `${options.label} `;
	page.on("console", (message) => {
		if (message.type() !== "error") return;
		if (options.expected?.test(message.text()) === true) options.onExpected?.();
		else problems.push(`${prefix}console: ${message.text()}`);
	});
	page.on("pageerror", (error) => problems.push(`${prefix}page error: ${error.message}`));
	if (options.failedRequests !== true) return;
	page.on("requestfailed", (request) => {
		const reason = request.failure()?.errorText ?? "";
		if (!reason.includes("ERR_ABORTED")) problems.push(`${prefix}request failed: ${request.url()} ${reason}`);
	});
}
