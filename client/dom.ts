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
	sessionStorage: {
		getItem(key: string): string | null;
		setItem(key: string, value: string): void;
		removeItem(key: string): void;
	};
	navigator: { onLine: boolean };
	addEventListener(type: "hashchange" | "online" | "offline", listener: () => void): void;
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
