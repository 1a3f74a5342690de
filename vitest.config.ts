import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_AUTH_SECRET } from "./scripts/test-secret.ts";

// wrangler.toml declares AUTH_SECRET a required secret, so reading it for the `workers`
// project makes wrangler look for one in .dev.vars, else in the environment, warn when it finds
// none (a fresh clone has no .dev.vars) and say where it found one, once per test file. The
// `bindings` below decide the value the tests see; these two only keep that out of the output
// (warnings and errors still show; WRANGLER_LOG=debug still works). Test runtimes started
// from here get the same secret (test/support/dev-server.ts).
process.env.AUTH_SECRET = TEST_AUTH_SECRET;
process.env.WRANGLER_LOG ??= "warn";

/**
 * Two projects: `workers` runs unit and runtime tests inside workerd with the project's
 * own wrangler.toml; `e2e` runs in Node and drives the real `wrangler dev` over sockets.
 */
export default defineConfig({
	test: {
		// The objects' structured info and warn lines are expected output of the scenarios under
		// test; errors, and anything that is not a structured line, still show.
		onConsoleLog: (log) => !/^\{"level":"(info|warn)"/.test(log),
		projects: [
			{
				plugins: [
					cloudflareTest({
						wrangler: { configPath: "./wrangler.toml" },
						miniflare: {
							// AUTH_SECRET is the test secret, never the developer's .dev.vars.
							// The webhook secret is the Standard Webhooks spec's own example (public, test-only).
							bindings: {
								AUTH_SECRET: TEST_AUTH_SECRET,
								FAULTS: "on",
								OUTBOX_BASE_DELAY_MS: "50",
								ALERT_WEBHOOK_URL: "http://webhook.test/hook",
								ALERT_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
								METRICS_FLUSH_MS: "100",
							},
							// Outbound fetches (alert webhooks) go to a recording stand-in, never the network.
							workers: [
								{
									name: "outside",
									modules: true,
									scriptPath: "./test/support/webhook-worker.js",
									compatibilityDate: "2026-11-01",
								},
							],
							outboundService: "outside",
						},
					}),
				],
				test: {
					name: "workers",
					include: ["test/unit/**/*.test.ts", "test/runtime/**/*.test.ts"],
					testTimeout: 20_000,
				},
			},
			{
				test: {
					name: "e2e",
					include: ["test/e2e/**/*.e2e.test.ts"],
					environment: "node",
					testTimeout: 120_000,
					hookTimeout: 120_000,
					// Each file starts its own wrangler dev; two at a time suit a 2-core machine.
					maxWorkers: 2,
					fileParallelism: true,
				},
			},
		],
	},
});
