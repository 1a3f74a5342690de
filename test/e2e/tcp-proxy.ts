/**
 * A loopback TCP proxy for client e2e tests: clients keep one address while the server behind
 * it is killed and restarted on another port, and a connection can be turned into a black hole
 * (bytes silently dropped, nothing closed) to simulate a half-open socket, which no real server
 * close can produce.
 */
import { type Server, type Socket, connect, createServer } from "node:net";

export type Blackhole = "none" | "both" | "toClient";

interface Pipe {
	client: Socket;
	upstream: Socket;
	/** The start of the client's first bytes (the HTTP request line and headers). */
	head: string;
	blackhole: Blackhole;
}

export class TcpProxy {
	readonly port: number;
	readonly #server: Server;
	readonly #pipes = new Set<Pipe>();
	#target: number | undefined;
	/** Every request head seen, for counting upgrade attempts. */
	readonly heads: string[] = [];

	private constructor(server: Server, port: number, target: number | undefined) {
		this.#server = server;
		this.port = port;
		this.#target = target;
	}

	static async start(target: number | undefined): Promise<TcpProxy> {
		let proxy: TcpProxy | undefined;
		const server = createServer((client) => proxy?.accept(client));
		const port = await new Promise<number>((resolve, reject) => {
			server.once("error", reject);
			server.listen(0, "127.0.0.1", () => {
				const address = server.address();
				if (address === null || typeof address === "string") reject(new Error("no address"));
				else resolve(address.port);
			});
		});
		proxy = new TcpProxy(server, port, target);
		return proxy;
	}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	/** Where new connections go; `undefined` refuses them (the server is down). */
	setTarget(port: number | undefined): void {
		this.#target = port;
	}

	/** WebSocket upgrade requests seen whose head matches `pattern`. */
	upgrades(pattern: RegExp): number {
		return this.heads.filter((head) => /^GET [^ ]*\/ws\?/.test(head) && pattern.test(head)).length;
	}

	private accept(client: Socket): void {
		const target = this.#target;
		if (target === undefined) {
			client.destroy();
			return;
		}
		const upstream = connect(target, "127.0.0.1");
		const pipe: Pipe = { client, upstream, head: "", blackhole: "none" };
		this.#pipes.add(pipe);
		client.on("data", (chunk: Buffer) => {
			if (pipe.head === "") {
				pipe.head = chunk.toString("latin1", 0, Math.min(chunk.length, 2048));
				this.heads.push(pipe.head);
			}
			if (pipe.blackhole !== "both") upstream.write(chunk);
		});
		upstream.on("data", (chunk: Buffer) => {
			if (pipe.blackhole === "none") client.write(chunk);
		});
		const end = (): void => {
			this.#pipes.delete(pipe);
			client.destroy();
			upstream.destroy();
		};
		client.on("close", end);
		upstream.on("close", end);
		client.on("error", end);
		upstream.on("error", end);
	}

	/**
	 * Stops forwarding on the open WebSocket connections whose upgrade request matches
	 * `pattern`, without closing anything: `both` drops bytes in both directions, `toClient`
	 * lets the client's frames reach the server but drops every answer. Returns how many.
	 */
	blackhole(pattern: RegExp, mode: Exclude<Blackhole, "none">): number {
		let count = 0;
		for (const pipe of this.#pipes) {
			if (/^GET [^ ]*\/ws\?/.test(pipe.head) && pattern.test(pipe.head) && pipe.blackhole === "none") {
				pipe.blackhole = mode;
				count++;
			}
		}
		return count;
	}

	/** Closes the black-holed connections, as a TCP timeout eventually would. */
	dropBlackholed(): void {
		for (const pipe of [...this.#pipes]) {
			if (pipe.blackhole !== "none") {
				pipe.client.destroy();
				pipe.upstream.destroy();
			}
		}
	}

	/** Resets every open connection (what clients see when the server process dies). */
	cutAll(): void {
		for (const pipe of [...this.#pipes]) {
			pipe.client.destroy();
			pipe.upstream.destroy();
		}
	}

	async close(): Promise<void> {
		this.cutAll();
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
	}
}
