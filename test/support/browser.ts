/**
 * Headless Debian Chromium for the browser tests (never a downloaded browser). The flags keep
 * it off the network beyond loopback: without the background-networking ones it tries to
 * reach Google's hosts at every start.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

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
