/**
 * @module
 * Cursors for lists merged across shards: the (createdAt, id) of the last record returned,
 * opaque to clients. Stateless, so any shard count and any order of requests work.
 */

export interface Position {
	createdAt: number;
	id: string;
}

/** URL-safe base64 of the position, so the cursor needs no escaping in a query string. */
export function encodeCursor(position: Position): string {
	const bytes = new TextEncoder().encode(JSON.stringify([position.createdAt, position.id]));
	return btoa(String.fromCharCode(...bytes))
		.replace(/=+$/, "")
		.replace(/\+/g, "-")
		.replace(/\//g, "_");
}

export function decodeCursor(cursor: string): Position | undefined {
	try {
		const binary = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
		const text = new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
		const value = JSON.parse(text) as unknown;
		if (!Array.isArray(value) || value.length !== 2) return undefined;
		const [createdAt, id] = value as [unknown, unknown];
		if (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt) || typeof id !== "string") return undefined;
		return { createdAt, id };
	} catch {
		return undefined;
	}
}

/** Newest first: by createdAt descending, then id descending. */
export function newestFirst(a: Position, b: Position): number {
	return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** Merges per-shard pages (each newest first) into one page of `limit`, with the next cursor. */
export function mergePages<T>(pages: T[][], limit: number, position: (item: T) => Position): { items: T[]; cursor: string | null } {
	const all = pages.flat().sort((a, b) => newestFirst(position(a), position(b)));
	const items = all.slice(0, limit);
	const last = items.at(-1);
	const more = all.length > limit || pages.some((page) => page.length >= limit);
	return { items, cursor: last !== undefined && more ? encodeCursor(position(last)) : null };
}
