/**
 * Small helpers for Node-side tests that drive the HTTP API of a running server.
 */

export interface CallInit {
	method?: string;
	body?: unknown;
	token?: string;
}

/**
 * A JSON caller bound to a server and a default token. A fresh `wrangler dev` can reload its
 * worker under the first requests and answer "Your worker restarted mid-request" (it retries
 * only GETs itself); such answers are retried, which is safe because writes carry client ids.
 */
export function apiCaller(baseUrl: () => string, defaultToken: string) {
	return async function call<T>(path: string, init: CallInit = {}): Promise<T> {
		for (let attempt = 1; ; attempt++) {
			const response = await fetch(`${baseUrl()}${path}`, {
				method: init.method ?? "GET",
				headers: { Authorization: `Bearer ${init.token ?? defaultToken}`, "Content-Type": "application/json" },
				body: init.body === undefined ? undefined : JSON.stringify(init.body),
			});
			const text = await response.text();
			if (!response.ok && attempt < 3 && text.startsWith("Your worker restarted mid-request")) continue;
			if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${text}`);
			return JSON.parse(text) as T;
		}
	};
}

/** Polls `probe` until it returns a value, or fails with the last thing it saw. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const value = await probe();
			if (value !== undefined) return value;
		} catch (error) {
			last = error;
		}
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
		await new Promise((r) => setTimeout(r, intervalMs));
	}
}
