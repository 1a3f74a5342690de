/**
 * @module
 * Which ops index shard holds a record. Everything about one saga is keyed by its trace id,
 * so a trace lookup is one shard; lists fan out to every shard and merge.
 */

/** FNV-1a: small, stable and well spread for short ids. */
export function hash32(text: string): number {
	let hash = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		hash ^= text.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193);
	}
	return hash >>> 0;
}

export function shardOf(key: string, shards: number): number {
	return hash32(key) % shards;
}

export function shardName(index: number): string {
	return `ops-${index}`;
}
