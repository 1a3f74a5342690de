/**
 * The set-up browser test files share: the page bundle built from the current sources, a real
 * `wrangler dev` and Debian's Chromium started together before the file's tests, and, after
 * them, every browser context a test opened closed, then the browser and the server. Without
 * Chromium (outside CI) nothing starts, and the file's tests skip themselves (browserMissing).
 */
import type { Browser, BrowserContext, BrowserContextOptions } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { browserMissing, launchChromium } from "./browser.ts";
import { buildPage } from "./chat-page.ts";
import { type DevServer, type DevServerOptions, startDevServer } from "./dev-server.ts";

export interface BrowserSuite {
	/** The running server; read it inside tests (it starts before them). */
	readonly server: DevServer;
	readonly browser: Browser;
	/** What the pages reported wrong (console errors, failed requests: see watchPage); a test expects none. */
	readonly problems: string[];
	/** A browser context that is closed when the file's tests end. */
	context(options?: BrowserContextOptions): Promise<BrowserContext>;
}

/** Registers the file's beforeAll and afterAll; call it once, at the top of a browser test file. */
export function browserSuite(options: DevServerOptions = {}): BrowserSuite {
	let server: DevServer | undefined;
	let browser: Browser | undefined;
	const contexts: BrowserContext[] = [];
	const problems: string[] = [];
	beforeAll(async () => {
		if (browserMissing) return;
		buildPage();
		[server, browser] = await Promise.all([startDevServer(options), launchChromium()]);
	});
	afterAll(async () => {
		for (const context of contexts) await context.close().catch(() => undefined);
		await browser?.close();
		await server?.stop();
	});
	const started = <T>(value: T | undefined, what: string): T => {
		if (value === undefined) throw new Error(`the ${what} is not started (outside a test, or Chromium is missing)`);
		return value;
	};
	return {
		get server() {
			return started(server, "server");
		},
		get browser() {
			return started(browser, "browser");
		},
		problems,
		async context(contextOptions) {
			const context = await started(browser, "browser").newContext(contextOptions);
			contexts.push(context);
			return context;
		},
	};
}
