/**
 * @module
 * The slice of the browser DOM the chat page uses, typed here.
 *
 * The project compiles against the Workers and Node typings, which clash with `lib.dom`
 * (both declare `WebSocket`, `Response`, `MessageEvent`, ...); pulling `lib.dom` into the shared
 * program would also let server code use `document` without a type error. So the page types
 * the few DOM members it touches itself, and reaches them through `browser`.
 */

export interface DomEvent {
	preventDefault(): void;
	/** `beforeunload`: older browsers ask only when this is set. */
	returnValue?: unknown;
	readonly key?: string;
	readonly shiftKey?: boolean;
	readonly isComposing?: boolean;
}

export interface DomElement {
	textContent: string | null;
	className: string;
	hidden: boolean;
	title: string;
	readonly dataset: Record<string, string | undefined>;
	readonly classList: {
		add(...tokens: string[]): void;
		remove(...tokens: string[]): void;
		toggle(token: string, force?: boolean): boolean;
		contains(token: string): boolean;
	};
	readonly firstElementChild: DomElement | null;
	readonly childElementCount: number;
	scrollTop: number;
	readonly scrollHeight: number;
	readonly clientHeight: number;
	append(...nodes: Array<DomElement | string>): void;
	prepend(...nodes: Array<DomElement | string>): void;
	replaceChildren(...nodes: Array<DomElement | string>): void;
	remove(): void;
	setAttribute(name: string, value: string): void;
	querySelector(selectors: string): DomElement | null;
	querySelectorAll(selectors: string): ArrayLike<DomElement>;
	addEventListener(type: string, listener: (event: DomEvent) => void): void;
	focus(): void;
}

/** A `<dialog>`; a `<form method="dialog">` inside closes it with the clicked button's value. */
export interface DomDialog extends DomElement {
	readonly open: boolean;
	returnValue: string;
	showModal(): void;
	close(returnValue?: string): void;
}

/** Inputs, textareas, selects and buttons. */
export interface DomControl extends DomElement {
	value: string;
	disabled: boolean;
}

export interface BrowserGlobals {
	document: {
		getElementById(id: string): DomElement | null;
		createElement(tagName: string): DomElement;
	};
	location: { hash: string; origin: string; pathname: string; search: string };
	history: { replaceState(data: null, unused: string, url: string): void };
	/** Per tab, kept across reloads. */
	sessionStorage: DomStorage;
	/** Per origin, kept after the tab is closed. */
	localStorage: DomStorage;
	navigator: { onLine: boolean };
	addEventListener(type: "hashchange" | "online" | "offline" | "beforeunload", listener: (event: DomEvent) => void): void;
}

export interface DomStorage {
	getItem(key: string): string | null;
	setItem(key: string, value: string): void;
	removeItem(key: string): void;
}

export const browser = globalThis as unknown as BrowserGlobals;

/** An element that the page's HTML must contain; a missing one is a build mistake. */
export function byId<T extends DomElement = DomElement>(id: string): T {
	const element = browser.document.getElementById(id);
	if (element === null) throw new Error(`index.html has no #${id}`);
	return element as T;
}

/** Creates an element with a class and text; text always goes through textContent. */
export function el(tagName: string, className = "", text?: string): DomElement {
	const element = browser.document.createElement(tagName);
	// Buttons default to type=submit; none created by script is meant to submit a form.
	if (tagName === "button") element.setAttribute("type", "button");
	if (className !== "") element.className = className;
	if (text !== undefined) element.textContent = text;
	return element;
}

/**
 * An element holding text a user wrote (a message, a name): `dir="auto"` lets the browser pick
 * the direction from the text itself, so Arabic or Hebrew reads right to left.
 */
export function userText(tagName: string, className: string, text: string): DomElement {
	const element = el(tagName, className, text);
	element.setAttribute("dir", "auto");
	return element;
}
