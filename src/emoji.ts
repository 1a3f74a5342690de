/**
 * @module
 * What counts as one emoji for a reaction: exactly one user-perceived character (an extended
 * grapheme cluster, as Intl.Segmenter splits text) that is an emoji. Pure, no imports, so the
 * protocol parsers, the client and the tests share one rule.
 */

/** A pictograph anywhere in the grapheme: 😀, 👍🏽, 👩‍👩‍👧, ❤️, 🏴‍☠️, tag flags such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿. */
const PICTOGRAPHIC = /\p{Extended_Pictographic}/u;
/** A country flag: exactly two regional indicator symbols. */
const FLAG = /^\p{Regional_Indicator}{2}$/u;
/** A keycap: a digit, `#` or `*`, an optional emoji presentation selector, then U+20E3. */
const KEYCAP = /^[0-9#*]\uFE0F?\u20E3$/u;
/** Characters that never belong in a reaction, whatever else the grapheme holds. */
const FORBIDDEN = /[\p{Cc}\p{Zs}\p{Zl}\p{Zp}]/u;

/**
 * The longest grapheme accepted, in UTF-16 units. The longest emoji in Unicode 15 (family and
 * kiss sequences with skin tones, subdivision flags) take about 15 code points; a bound keeps
 * a grapheme built of thousands of combining marks out of the reaction table.
 */
export const MAX_EMOJI_UNITS = 32;

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Whether `text` is exactly one grapheme cluster (and not empty). */
export function isOneGrapheme(text: string): boolean {
	if (text.length === 0) return false;
	const iterator = segmenter.segment(text)[Symbol.iterator]();
	const first = iterator.next();
	return !first.done && first.value.segment === text;
}

/**
 * Whether `text` is exactly one emoji: a single grapheme that holds a pictograph, or is a flag
 * or a keycap. Text such as "a", "1", "ab", "👍👍" or "👍 " is not.
 */
export function isEmoji(text: string): boolean {
	if (text.length > MAX_EMOJI_UNITS || !isOneGrapheme(text) || FORBIDDEN.test(text)) return false;
	return PICTOGRAPHIC.test(text) || FLAG.test(text) || KEYCAP.test(text);
}
