/**
 * @module
 * Makes text from the network safe to write to a terminal. Names, message texts, room ids and
 * error messages come from other people (or a server); written raw, a control character or an
 * escape sequence in them could retitle the window, clear the screen, move the cursor and
 * overwrite earlier lines, or forge a line that seems to come from someone else. Pure
 * functions, no I/O, so they are unit-tested on their own.
 *
 * What is shown as a visible escape instead of written raw:
 * - every C0 control (U+0000–U+001F, so ESC and with it every escape sequence, BEL, bare CR,
 *   tab, backspace, ...), DEL (U+007F) and every C1 control (U+0080–U+009F, which include the
 *   8-bit CSI and OSC): `\x1b`, `\r`, `\t`, `\x9b`;
 * - a line break (`\n` or `\r\n`) becomes ` ⏎ `, so one event stays one line;
 * - Unicode format characters (general category Cf): the bidi embeddings, overrides and
 *   isolates (U+202A–U+202E, U+2066–U+2069), the LRM/RLM/ALM marks, zero-width spaces and
 *   joiners, the word joiner and invisible operators, the BOM, soft hyphen, tag characters,
 *   interlinear annotation marks, ...: `\u202e`, `\u{e0041}`;
 * - the line and paragraph separators U+2028 and U+2029;
 * - the invisible Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), a known way to make a
 *   blank-looking name;
 * - lone surrogates (not text at all): `\ud800`.
 *
 * Kept as they are, because real text needs them and they cannot hide or forge anything there:
 * a zero-width joiner or non-joiner between two non-ASCII visible characters (emoji sequences
 * such as 👨‍👩‍👧, Persian and Indic scripts), and the tag characters of an emoji tag sequence
 * (the flags of England, Scotland, Wales). Next to ASCII, at either end, or next to another
 * invisible character they are escaped, so `Car\u200dol` cannot pass for `Carol`.
 *
 * A backslash is left alone: `\x1b` typed as text reads the same as an escaped ESC, which is
 * harmless (nothing is executed either way) and keeps paths and code readable.
 */

/** What is never written raw (see the module comment), or a line break, or an emoji tag sequence. */
const UNSAFE = /\r\n|\n|\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}|[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]/gu;

/** A neighbour that lets a ZWJ / ZWNJ stay raw: visible, not ASCII, not a space, not a control or format char. */
const JOINABLE = /^[^\p{ASCII}\p{C}\p{Z}\u115F\u1160\u3164\uFFA0]$/u;

const SHORT: Readonly<Record<number, string>> = { 9: "\\t", 13: "\\r" };

/** The visible escape of one code point: `\t`, `\r`, `\xNN` below U+0100, `\uNNNN`, `\u{NNNNN}`. */
export function escapeCodePoint(codePoint: number): string {
	const short = SHORT[codePoint];
	if (short !== undefined) return short;
	const hex = codePoint.toString(16);
	if (codePoint < 0x100) return `\\x${hex.padStart(2, "0")}`;
	if (codePoint < 0x10000) return `\\u${hex.padStart(4, "0")}`;
	return `\\u{${hex}}`;
}

/** The code point that ends just before `index` (a whole surrogate pair, if there is one). */
function codePointBefore(text: string, index: number): string | undefined {
	if (index <= 0) return undefined;
	const low = text.charCodeAt(index - 1);
	if (low >= 0xdc00 && low <= 0xdfff && index >= 2) {
		const high = text.charCodeAt(index - 2);
		if (high >= 0xd800 && high <= 0xdbff) return text.slice(index - 2, index);
	}
	return text.slice(index - 1, index);
}

/** The code point that starts at `index`. */
function codePointAt(text: string, index: number): string | undefined {
	const codePoint = text.codePointAt(index);
	return codePoint === undefined ? undefined : String.fromCodePoint(codePoint);
}

function joins(text: string, offset: number, length: number): boolean {
	const before = codePointBefore(text, offset);
	const after = codePointAt(text, offset + length);
	return before !== undefined && after !== undefined && JOINABLE.test(before) && JOINABLE.test(after);
}

/**
 * `text` with everything that could act on a terminal, hide or forge a line shown as a visible
 * escape (see the module comment); the result contains no control, format or line-breaking
 * character except the joiners and tags that real text needs.
 */
export function escapeForTerminal(text: string): string {
	return text.replace(UNSAFE, (match: string, offset: number) => {
		if (match === "\n" || match === "\r\n") return " ⏎ ";
		// An emoji tag sequence (a subdivision flag): matched whole, kept whole.
		if (match.startsWith("\u{1F3F4}")) return match;
		const codePoint = match.codePointAt(0) ?? 0;
		if ((codePoint === 0x200c || codePoint === 0x200d) && joins(text, offset, match.length)) return match;
		return escapeCodePoint(codePoint);
	});
}

/**
 * A template tag that escapes every interpolated value (stringified) with `escapeForTerminal`
 * and keeps the literal parts: `` safe`#${seq} ${name}: ${text}` ``. For lines made of a fixed
 * shape and values from the network, so no value can be forgotten.
 */
export function safe(strings: TemplateStringsArray, ...values: unknown[]): string {
	let out = strings[0] ?? "";
	for (let i = 0; i < values.length; i++) out += escapeForTerminal(String(values[i])) + (strings[i + 1] ?? "");
	return out;
}

/**
 * At most `max` code points of `text` (default 60), with `…` and the full length when cut, for
 * echoing a long line back in a short report. Cuts between code points, never inside a pair.
 */
export function preview(text: string, max = 60): string {
	const points = Array.from(text);
	if (points.length <= max) return text;
	return `${points.slice(0, max).join("")}… (${points.length} chars)`;
}
