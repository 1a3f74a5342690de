/**
 * A terminal chat client built on the client library.
 *
 *   npm run chat -- --room lobby --guest alice
 *   npm run chat -- --room lobby --token "$(npm run -s token -- --sub ann --name Ann)" --url https://chat.example.com
 *
 * Each line typed (or piped) on stdin is sent as a message. Commands:
 *   /history [n]    show the n (default 20) messages before the oldest one shown
 *   /delete <msgId> retract one of your messages
 *   /quit           wait for unsent messages to be acked, then exit (also on end of input)
 *
 * The room transcript goes to stdout, one line per event: `#<seq> <name>: <text> [<msgId>]`
 * and `#<seq> (removed <msgId>: <reason>)`. Status, presence and errors go to stderr, so the
 * output can be piped or diffed. Exit codes: 0 after /quit or end of input, 1 when the
 * credentials or room are refused, 2 on bad arguments.
 */
import { clearLine, createInterface, cursorTo } from "node:readline";
import { parseArgs } from "node:util";
import { ParleyClient } from "./index.ts";
import type { ChatMessage, RetractEvent, RoomEvent, SendResult } from "./index.ts";

const USAGE = "usage: npm run chat -- --room <room> (--guest <name> | --token <jwt>) [--url http://127.0.0.1:8787] [--since <seq>]";

const DEFAULT_URL = "http://127.0.0.1:8787";
const DEFAULT_HISTORY = 20;
/** How long /quit waits for queued messages to be acked before giving up on them. */
const QUIT_GRACE_MS = 10_000;

interface CliArgs {
	url: string;
	room: string;
	guest?: string;
	token?: string;
	since?: number;
}

function parseCliArgs(argv: string[]): CliArgs | string {
	let values;
	try {
		({ values } = parseArgs({
			args: argv,
			options: {
				url: { type: "string", default: DEFAULT_URL },
				room: { type: "string" },
				guest: { type: "string" },
				token: { type: "string" },
				since: { type: "string" },
				help: { type: "boolean", short: "h", default: false },
			},
		}));
	} catch (error) {
		return `${(error as Error).message}\n${USAGE}`;
	}
	if (values.help) return USAGE;
	if (values.room === undefined) return `--room is required\n${USAGE}`;
	if ((values.guest === undefined) === (values.token === undefined)) return `give exactly one of --guest and --token\n${USAGE}`;
	let since: number | undefined;
	if (values.since !== undefined) {
		since = Number(values.since);
		if (!Number.isInteger(since) || since < 0) return "--since must be a whole number >= 0";
	}
	return { url: values.url, room: values.room, guest: values.guest, token: values.token, since };
}

function formatEvent(event: RoomEvent): string {
	if (event.type === "retract") return `#${event.seq} (removed ${event.msgId}: ${event.reason})`;
	return formatMessage(event);
}

function formatMessage(message: ChatMessage): string {
	if (message.retractedBy !== undefined) return `#${message.seq} ${message.author.name}: (removed) [${message.msgId}]`;
	const origin = message.from === undefined ? "" : ` (from #${message.from.room})`;
	// One event per line: a message with newlines would otherwise look like several.
	return `#${message.seq} ${message.author.name}${origin}: ${message.text.replace(/\r?\n/g, " ⏎ ")} [${message.msgId}]`;
}

async function main(): Promise<number> {
	const args = parseCliArgs(process.argv.slice(2));
	if (typeof args === "string") {
		const isHelp = args === USAGE;
		(isHelp ? process.stdout : process.stderr).write(`${args}\n`);
		return isHelp ? 0 : 2;
	}

	let client: ParleyClient;
	try {
		client = new ParleyClient({
			url: args.url,
			room: args.room,
			...(args.token !== undefined ? { token: args.token } : { guest: args.guest ?? "" }),
			since: args.since,
		});
	} catch (error) {
		process.stderr.write(`${(error as Error).message}\n`);
		return 2;
	}

	const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
	const rl = createInterface({ input: process.stdin, terminal: interactive });
	if (interactive) rl.setPrompt(`${args.room}> `);

	/** Writes a line without mangling what the user is typing at the prompt. */
	const print = (stream: NodeJS.WriteStream, line: string): void => {
		if (interactive) {
			clearLine(process.stdout, 0);
			cursorTo(process.stdout, 0);
		}
		stream.write(`${line}\n`);
		if (interactive) rl.prompt(true);
	};
	const out = (line: string): void => print(process.stdout, line);
	const info = (line: string): void => print(process.stderr, `* ${line}`);

	/** The oldest seq shown so far, for /history to page backwards from. */
	let oldestShown: number | undefined;
	const noteShown = (seq: number): void => {
		oldestShown = oldestShown === undefined ? seq : Math.min(oldestShown, seq);
	};
	const unsent = new Set<Promise<SendResult | undefined>>();

	client.on("message", (message) => {
		noteShown(message.seq);
		out(formatMessage(message));
	});
	client.on("retract", (retract: RetractEvent) => {
		noteShown(retract.seq);
		out(formatEvent(retract));
	});
	client.on("welcome", (welcome) => info(`in #${welcome.room} as ${welcome.user.name}; online: ${welcome.online.map((u) => u.name).join(", ")}`));
	client.on("presence", (presence) => info("joined" in presence ? `${presence.joined.name} joined` : `${presence.left.name} left`));
	client.on("saga", (saga) => info(`cross-post ${saga.sagaId}: ${saga.state}`));
	client.on("error", (error) => {
		if (error.code !== "rate_limited") info(`error ${error.code}: ${error.message}`);
	});
	client.on("status", (status) => {
		if (status.state === "reconnecting") info(`connection lost (${status.reason ?? "?"}); retrying in ${status.delayMs ?? 0} ms`);
		else if (status.state === "live") info("live");
	});

	let finishing = false;
	const finish = async (code: number): Promise<number> => {
		if (finishing) return code;
		finishing = true;
		if (unsent.size > 0 && code === 0) {
			info(`waiting for ${unsent.size} message(s) to be acked`);
			const grace = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), QUIT_GRACE_MS).unref());
			if ((await Promise.race([Promise.allSettled([...unsent]), grace])) === "timeout") {
				info(`${client.pending} message(s) were not acked and are dropped`);
			}
		}
		client.close();
		rl.close();
		return code;
	};

	const handle = async (line: string): Promise<"quit" | undefined> => {
		const trimmed = line.trim();
		if (trimmed === "") return undefined;
		if (trimmed === "/quit" || trimmed === "/exit") return "quit";
		if (trimmed === "/history" || trimmed.startsWith("/history ")) {
			const n = trimmed === "/history" ? DEFAULT_HISTORY : Number(trimmed.slice("/history ".length).trim());
			if (!Number.isInteger(n) || n < 1 || n > 500) {
				info("usage: /history [n], n = 1..500");
				return undefined;
			}
			try {
				const before = oldestShown ?? client.lastSeq + 1;
				const page = await client.history({ before, limit: n });
				if (page.events.length === 0) {
					info("no older messages");
					return undefined;
				}
				out(`--- history #${page.events[0]?.seq ?? "?"}..#${page.events.at(-1)?.seq ?? "?"} ---`);
				for (const event of page.events) {
					noteShown(event.seq);
					out(formatEvent(event));
				}
				out("--- end of history ---");
			} catch (error) {
				info(`history failed: ${(error as Error).message}`);
			}
			return undefined;
		}
		if (trimmed.startsWith("/delete")) {
			const msgId = trimmed.slice("/delete".length).trim();
			if (msgId === "") {
				info("usage: /delete <msgId>");
				return undefined;
			}
			try {
				const { seq } = await client.delete(msgId);
				info(`deleted ${msgId} (retract #${seq})`);
			} catch (error) {
				info(`delete failed: ${(error as Error).message}`);
			}
			return undefined;
		}
		if (trimmed.startsWith("/")) {
			info("commands: /history [n], /delete <msgId>, /quit");
			return undefined;
		}
		// Not awaited: lines keep flowing while earlier ones wait for their ack.
		const sent = client.send(line).catch((error: unknown) => {
			info(`not sent (${(error as Error).message}): ${line}`);
			return undefined;
		});
		unsent.add(sent);
		void sent.finally(() => unsent.delete(sent));
		return undefined;
	};

	const refused = new Promise<number>((resolve) => {
		client.on("status", (status) => {
			if (status.state === "unauthorized" || status.state === "forbidden" || status.state === "rejected") {
				info(`refused: ${status.reason ?? status.state}`);
				resolve(1);
			}
		});
	});
	void client.connect().catch(() => undefined);
	if (interactive) {
		rl.on("SIGINT", () => rl.close());
		rl.prompt();
	}

	const input = (async (): Promise<number> => {
		for await (const line of rl) {
			if ((await handle(line)) === "quit") break;
			if (interactive) rl.prompt();
		}
		// Input can end before the first connect settles (`cli < file`); exit 0 only once we
		// know the server took us, so a refused token is reported with exit code 1.
		const grace = new Promise<number>((resolve) => setTimeout(() => resolve(1), QUIT_GRACE_MS).unref());
		const connected = await Promise.race([client.connect().then(() => 0, () => 1), grace]);
		if (connected !== 0 && client.state !== "unauthorized" && client.state !== "forbidden" && client.state !== "rejected") {
			info("could not connect before giving up");
		}
		return connected;
	})();
	return await finish(await Promise.race([input, refused]));
}

process.exitCode = await main();
// Sockets and timers are closed by now, but an HTTP keep-alive pool may hold the loop open.
process.exit();
