/**
 * @module
 * Who a client is: a guest name, or a token provider asked afresh on every connect and HTTP call
 * (tokens expire, and only the app knows how to get a new one). The room and inbox clients share
 * it, so both ask, and retry after a 401, by the same rule.
 */
import { ParleyClientError } from "./errors.ts";
import type { Credentials } from "./http.ts";

/** Hands out a current token; called on every connect and HTTP call (and once more on a 401). */
export type TokenProvider = () => string | Promise<string>;

export class Identity {
	readonly #auth: { token: TokenProvider } | { guest: string };

	/** Exactly one of `token` and `guest` is given; the clients check that first. */
	constructor(token: string | TokenProvider | undefined, guest: string | undefined) {
		this.#auth = token === undefined ? { guest: guest ?? "" } : { token: typeof token === "string" ? () => token : token };
	}

	async credentials(): Promise<Credentials> {
		if ("guest" in this.#auth) return { guest: this.#auth.guest };
		const token = await this.#auth.token();
		if (typeof token !== "string" || token === "") throw new ParleyClientError("unauthorized", "the token provider returned no token");
		return { token };
	}

	/**
	 * One HTTP call with current credentials. After a 401 the provider is asked once more: the
	 * token may have expired since it was handed out. A guest's 401 is final.
	 */
	async http<T>(call: (credentials: Credentials) => Promise<T>): Promise<T> {
		try {
			return await call(await this.credentials());
		} catch (error) {
			if (!(error instanceof ParleyClientError && error.status === 401 && "token" in this.#auth)) throw error;
			return await call(await this.credentials());
		}
	}
}
