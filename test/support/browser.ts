/**
 * Headless Debian Chromium for the browser tests (never a downloaded browser). The flags keep
 * it off the network beyond loopback: without the background-networking ones it tries to
 * reach Google's hosts at every start.
 */
import { type Browser, chromium } from "playwright-core";

export async function launchChromium(): Promise<Browser> {
	return await chromium.launch({
		executablePath: "/usr/bin/chromium",
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
