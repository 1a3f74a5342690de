/**
 * @module
 * Building pages with text only, for the chat page and the console. `h` and `s` create HTML and
 * SVG elements; every string among their children becomes a text node and every prop an
 * attribute, so data from the server is never parsed as HTML.
 */

/** What `h` and `s` accept as children: nodes, text, nested lists; null, undefined and false are skipped. */
export type Child = Node | string | number | null | undefined | false | readonly Child[];

type Listener = (event: Event) => void;
/** `class`, `dataset` (data-* attributes), `on<event>` listeners, or plain attributes (`true` = present). */
export type Props = Readonly<
	Record<string, string | number | boolean | null | undefined | Listener | Readonly<Record<string, string | number>>>
>;

export function append(parent: Node, children: readonly Child[]): void {
	for (const child of children) {
		if (child === null || child === undefined || child === false) continue;
		if (Array.isArray(child)) append(parent, child);
		else if (child instanceof Node) parent.appendChild(child);
		else parent.appendChild(document.createTextNode(String(child)));
	}
}

function setProps(el: HTMLElement | SVGElement, props: Props | null): void {
	if (props === null) return;
	for (const [key, value] of Object.entries(props)) {
		if (value === null || value === undefined || value === false) continue;
		if (typeof value === "function") {
			if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
		} else if (typeof value === "object") {
			if (key === "dataset") for (const [name, data] of Object.entries(value)) el.dataset[name] = String(data);
		} else {
			el.setAttribute(key, value === true ? "" : String(value));
		}
	}
}

/** An HTML element. */
export function h<K extends keyof HTMLElementTagNameMap>(
	tag: K,
	props: Props | null = null,
	...children: Child[]
): HTMLElementTagNameMap[K] {
	const el = document.createElement(tag);
	setProps(el, props);
	append(el, children);
	return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element; same rules as `h`. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, props: Props | null = null, ...children: Child[]): SVGElementTagNameMap[K] {
	const el = document.createElementNS(SVG_NS, tag);
	setProps(el, props);
	append(el, children);
	return el;
}

export function clear(el: Node): void {
	while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * An element index.html must contain, checked to be of the expected kind (a missing or
 * different one is a mistake in the page, reported at once).
 */
export function byId(id: string): HTMLElement;
export function byId<T extends HTMLElement>(id: string, kind: { new (): T; prototype: T }): T;
export function byId(id: string, kind: { new (): HTMLElement; prototype: HTMLElement } = HTMLElement): HTMLElement {
	const el = document.getElementById(id);
	if (!(el instanceof kind)) throw new Error(`index.html has no ${kind.name} #${id}`);
	return el;
}

/** The value of a text input, textarea or select. */
export function fieldValue(id: string): string {
	const el = document.getElementById(id);
	if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return el.value;
	throw new Error(`index.html has no input #${id}`);
}

/**
 * An element with a class and text; text always goes through textContent. Buttons get
 * `type="button"`: none created by script is meant to submit a form.
 */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text?: string): HTMLElementTagNameMap[K] {
	const element = document.createElement(tag);
	if (element instanceof HTMLButtonElement) element.type = "button";
	if (className !== "") element.className = className;
	if (text !== undefined) element.textContent = text;
	return element;
}

/**
 * An element holding text a user wrote (a message, a name): `dir="auto"` lets the browser pick
 * the direction from the text itself, so Arabic or Hebrew reads right to left.
 */
export function userText<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text: string): HTMLElementTagNameMap[K] {
	const element = el(tag, className, text);
	element.dir = "auto";
	return element;
}
