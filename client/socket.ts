/**
 * @module
 * The slice of the WebSocket API the client uses. Browsers, Node 22 (undici), the `ws` package
 * and Workers all provide it, with different declared types; naming the slice here lets the
 * client (and tests) plug in any of them without depending on one runtime's typings.
 */

export interface SocketLike {
	readonly readyState: number;
	send(data: string): void;
	close(code?: number, reason?: string): void;
	addEventListener(type: "open", listener: () => void): void;
	addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
	addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
	addEventListener(type: "error", listener: () => void): void;
}

/** Opens a socket to `url`. The default uses the runtime's global `WebSocket`. */
export type SocketFactory = (url: string) => SocketLike;

/** `WebSocket.OPEN`, the same number in every implementation. */
export const SOCKET_OPEN = 1;

export function globalSocketFactory(): SocketFactory {
	const ctor = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
	if (ctor === undefined) {
		throw new TypeError("this runtime has no global WebSocket; pass `createSocket` (for example one built on the `ws` package)");
	}
	return (url) => new ctor(url);
}
