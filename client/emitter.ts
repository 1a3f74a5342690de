/**
 * @module
 * A small typed event emitter. Not EventTarget: Node, browsers and Workers all have one, but
 * its listeners receive `Event` objects, so payloads would need a subclass per event and casts
 * at every listener. Here `on("message", fn)` gives `fn` the frame type directly.
 */

export type Listener<T> = (payload: T) => void;

export class Emitter<Events extends object> {
	readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();

	/** Adds a listener; returns a function that removes it. */
	on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
		let set = this.#listeners.get(type);
		if (set === undefined) {
			set = new Set();
			this.#listeners.set(type, set);
		}
		set.add(listener as Listener<never>);
		return () => this.off(type, listener);
	}

	/** Like `on`, but the listener runs at most once. */
	once<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
		const off = this.on(type, (payload) => {
			off();
			listener(payload);
		});
		return off;
	}

	off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
		this.#listeners.get(type)?.delete(listener as Listener<never>);
	}

	emit<K extends keyof Events>(type: K, payload: Events[K]): void {
		const set = this.#listeners.get(type);
		if (set === undefined) return;
		for (const listener of [...set]) {
			try {
				(listener as Listener<Events[K]>)(payload);
			} catch (error) {
				// A throwing listener must not break the connection loop that called emit, nor
				// stop the other listeners; report it the way EventTarget does.
				reportListenerError(error);
			}
		}
	}
}

function reportListenerError(error: unknown): void {
	const global = globalThis as { reportError?: (error: unknown) => void };
	if (typeof global.reportError === "function") {
		global.reportError(error);
		return;
	}
	setTimeout(() => {
		throw error;
	}, 0);
}
