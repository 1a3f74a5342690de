/**
 * @module
 * Where the client keeps unsent messages so they survive a reload, a closed tab or a restart
 * of the app: a tiny key-value interface, with adapters for browsers and memory. The Node file
 * adapter lives in `storage-file.ts` (it imports `node:fs`).
 */

/** A key-value store for the outbox; each method may be synchronous or return a promise. */
export interface OutboxStorage {
	get(key: string): string | null | undefined | Promise<string | null | undefined>;
	set(key: string, value: string): void | Promise<void>;
	delete(key: string): void | Promise<void>;
}

/** The slice of the Web Storage API the adapter needs (localStorage, sessionStorage). */
export interface WebStorageLike {
	getItem(key: string): string | null;
	setItem(key: string, value: string): void;
	removeItem(key: string): void;
}

/**
 * An outbox kept in `localStorage` (default) or any Web Storage: written synchronously, so a
 * message is on disk before `send()` returns, even if the tab is closed right after.
 */
export function localStorageOutbox(storage?: WebStorageLike): OutboxStorage {
	const store = storage ?? (globalThis as { localStorage?: WebStorageLike }).localStorage;
	if (store === undefined) throw new TypeError("this runtime has no localStorage; pass a Web Storage or another OutboxStorage");
	return {
		get: (key) => store.getItem(key),
		set: (key, value) => store.setItem(key, value),
		delete: (key) => store.removeItem(key),
	};
}

/** An outbox in memory (tests, or apps that keep their own persistence). */
export function memoryStorage(initial: Record<string, string> = {}): OutboxStorage & { readonly data: Map<string, string> } {
	const data = new Map(Object.entries(initial));
	return {
		data,
		get: (key) => data.get(key),
		set: (key, value) => {
			data.set(key, value);
		},
		delete: (key) => {
			data.delete(key);
		},
	};
}
