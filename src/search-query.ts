/**
 * @module
 * Turns a user's search words into an FTS5 query (objects/search.ts). Pure, tested in
 * test/unit/search-query.test.ts. Every word is quoted, so no FTS5 operator or column filter in
 * the input has any effect; all words must match (AND); a word ending in `*` matches as a
 * prefix. Words with no letter or digit match nothing and are dropped.
 */

/** At most this many words are kept from a query. */
export const MAX_SEARCH_WORDS = 16;

const HAS_WORD_CHAR = /[\p{L}\p{N}]/u;

/** The FTS5 MATCH expression for `q`, or `undefined` when it holds no word to look for. */
export function ftsQuery(q: string): string | undefined {
	const terms: string[] = [];
	for (const raw of q.split(/\s+/u)) {
		if (terms.length >= MAX_SEARCH_WORDS) break;
		const prefix = raw.endsWith("*");
		const word = prefix ? raw.replace(/\*+$/u, "") : raw;
		if (!HAS_WORD_CHAR.test(word)) continue;
		terms.push(`"${word.replaceAll('"', '""')}"${prefix ? "*" : ""}`);
	}
	return terms.length === 0 ? undefined : terms.join(" ");
}
