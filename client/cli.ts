/**
 * A terminal chat client built on the client library.
 *
 *   npm run chat -- --room lobby --guest alice
 *   npm run -s token -- --sub ann --name Ann > ~/.parley-token && npm run chat -- --room lobby --token-file ~/.parley-token
 *   PARLEY_TOKEN="$(npm run -s token -- --sub ann)" npm run chat -- --room lobby --url https://chat.example.com
 *
 * Each line typed (or piped) on stdin is sent as a message, in order. Commands (`/help` lists
 * them; see COMMANDS in cli-text.ts): /edit, /reply, /react, /unreact, /delete, /search,
 * /history, /rooms, /dm, /mentions, /help, /quit. A line starting with `//` is sent as text
 * with one `/` removed. Edits and reactions go through the same outbox as messages, so they
 * keep the order typed. `/rooms`, `/dm` and `/mentions` (v1.4) start an InboxClient the first
 * time one is used; `/dm <user>` switches this terminal to the DM room, after the lines
 * typed so far are stored.
 *
 * The room transcript goes to stdout, one line per event, with the local time:
 * `#<seq> <time> <name>: <text> [<msgId>]`, `#<seq> <time> (removed <msgId>: <reason>)`,
 * `#<seq> <time> <name> edited #<n>: <text>`, `#<seq> <time> <name> reacted <emoji> to #<n>`.
 * Status, presence and errors go to stderr, so the output can be piped or diffed. Everything
 * that came from the network is shown through `escapeForTerminal`, so no one in the room can
 * send escape sequences to the terminal.
 *
 * Every line is either stored (exactly once, in the order typed) or reported on stderr as
 * `* line <n> not sent (<code>: <why>): <text>`. Exit codes: 0 when every line was stored,
 * 1 when some line was not (refused, or still unacked when giving up), or the credentials or
 * room were refused, or no connection could be made; 2 on bad arguments.
 */
import { readFileSync } from "node:fs";
import { clearLine, createInterface, cursorTo } from "node:readline";
import { parseOptions } from "../scripts/args.ts";
import { InboxClient, ParleyClient, ParleyClientError } from "./index.ts";
import type { ConnectionState, RoomEvent, SendResult } from "./index.ts";
import {
	formatEdit,
	formatMentions,
	formatMessage,
	formatReaction,
	formatRetract,
	formatRooms,
	formatSearch,
	helpText,
	type MessageRef,
	parseLine,
	type ShownMessage,
	shownName,
} from "./cli-text.ts";
import { labelIn } from "./inbox-state.ts";
import { preview, safe } from "./terminal-text.ts";
import { TypingUsers } from "./typing.ts";

const USAGE = `usage: npm run chat -- --room <room> <credentials> [options]

credentials (exactly one):
  --guest <name>        join as a guest (when the server allows guests)
  --token-file <path>   read a token from a file (re-read on every connect)
  PARLEY_TOKEN=<jwt>    the token in the environment
  --token <jwt>         the token itself (visible to other users in \`ps\`)

options:
  --url <url>           the server (default http://127.0.0.1:8787)
  --since <seq>         show the room's events after this seq (default: the latest 50)
  -h, --help            show this help

Each input line is sent as a message; a line starting with / is a command, and one starting
with // is sent with one / removed. Exit status: 0 when every line (message, edit, reaction)
was stored, 1 when some line was not (or the server refused us), 2 on bad arguments.

${helpText()}`;

const DEFAULT_URL = "http://127.0.0.1:8787";
/** How many shown messages are remembered for `#<n>` references. */
const SHOWN_MAX = 10_000;
/** How long /quit and end of input wait without any progress (an ack) before giving up on unacked lines. */
const QUIT_GRACE_MS = 10_000;
/** How long /rooms, /dm and /mentions wait for the inbox to be live before showing what it has. */
const INBOX_WAIT_MS = 10_000;

const REFUSED: ReadonlySet<ConnectionState> = new Set(["unauthorized", "forbidden", "rejected"]);
const TERMINAL: ReadonlySet<ConnectionState> = new Set([...REFUSED, "closed"]);

type Credential = { guest: string } | { token: string | (() => string) };

interface CliArgs {
	url: string;
	room: string;
	credential: Credential;
	since?: number;
}

type Parsed = CliArgs | { help: true } | { error: string };

/** Reads the arguments and the environment; never throws. */
export function parseCliArgs(argv: string[], env: Record<string, string | undefined>): Parsed {
	const parsed = parseOptions(argv, {
		url: { type: "string", default: DEFAULT_URL },
		room: { type: "string" },
		guest: { type: "string" },
		token: { type: "string" },
		"token-file": { type: "string" },
		since: { type: "string" },
		help: { type: "boolean", short: "h", default: false },
	});
	if ("error" in parsed) return parsed;
	const { values } = parsed;
	if (values.help) return { help: true };
	if (values.room === undefined) return { error: "--room is required" };

	const envToken = env.PARLEY_TOKEN === undefined || env.PARLEY_TOKEN.trim() === "" ? undefined : env.PARLEY_TOKEN.trim();
	const given = [
		values.guest !== undefined ? "--guest" : undefined,
		values.token !== undefined ? "--token" : undefined,
		values["token-file"] !== undefined ? "--token-file" : undefined,
		envToken !== undefined ? "PARLEY_TOKEN (from the environment)" : undefined,
	].filter((source) => source !== undefined);
	if (given.length === 0)
		return { error: "no credentials: give --guest <name>, --token-file <path> or --token <jwt>, or set PARLEY_TOKEN" };
	if (given.length > 1) return { error: `give exactly one credential source, not ${given.join(" and ")}` };

	let credential: Credential;
	if (values.guest !== undefined) {
		credential = { guest: values.guest };
	} else if (values.token !== undefined) {
		if (values.token.trim() === "") return { error: "--token is empty" };
		credential = { token: values.token.trim() };
	} else if (values["token-file"] !== undefined) {
		const path = values["token-file"];
		// Read once now, so a wrong path is a usage error rather than an endless reconnect loop;
		// then again on every connect, so a token refreshed in the file is picked up.
		let first: string;
		try {
			first = readFileSync(path, "utf8").trim();
		} catch (error) {
			return { error: `cannot read --token-file ${path}: ${(error as Error).message}` };
		}
		if (first === "") return { error: `--token-file ${path} is empty` };
		credential = { token: () => readFileSync(path, "utf8").trim() };
	} else {
		credential = { token: envToken ?? "" };
	}

	let url: URL;
	try {
		url = new URL(values.url);
	} catch {
		return { error: `--url ${values.url} is not a URL (e.g. ${DEFAULT_URL})` };
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return { error: `--url must be http:// or https://, not ${url.protocol}` };

	let since: number | undefined;
	if (values.since !== undefined) {
		since = Number(values.since);
		if (values.since.trim() === "" || !Number.isInteger(since) || since < 0) return { error: "--since must be a whole number >= 0" };
	}
	return { url: values.url, room: values.room, credential, since };
}

function formatEvent(event: RoomEvent, shown: ReadonlyMap<string, ShownMessage>): string {
	switch (event.type) {
		case "message":
			return formatMessage(event);
		case "retract":
			return formatRetract(event);
		case "message.edited":
			return formatEdit(event, shown.get(event.msgId));
		case "reaction.added":
		case "reaction.removed":
			return formatReaction(event, shown.get(event.msgId));
		default:
			return safe`#${(event as { seq: number }).seq} (${(event as { type: string }).type})`;
	}
}

/** `code: message` of a failure, for a report line (still to be escaped). */
function describe(error: unknown): string {
	if (error instanceof ParleyClientError) return `${error.code}: ${error.message}`;
	return error instanceof Error ? error.message : String(error);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<number> {
	const args = parseCliArgs(process.argv.slice(2), process.env);
	if ("help" in args) {
		process.stdout.write(`${USAGE}\n`);
		return 0;
	}
	if ("error" in args) {
		process.stderr.write(`${args.error}\n\n${USAGE}\n`);
		return 2;
	}

	// `--since` is about the room named on the command line, not the ones switched to later.
	const openRoom = (room: string): ParleyClient =>
		new ParleyClient({ url: args.url, room, ...args.credential, since: room === args.room ? args.since : undefined });
	let client: ParleyClient;
	try {
		client = openRoom(args.room);
	} catch (error) {
		process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
		return 2;
	}

	// `chat | head` closes stdout early; that must not crash the client or lose the sends.
	process.stdout.on("error", () => undefined);

	const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
	const rl = createInterface({ input: process.stdin, terminal: interactive });

	/** The user's inbox, started by the first /rooms, /dm or /mentions. */
	let inbox: InboxClient | undefined;
	/** A room as this terminal names it: `#lobby`, or `@Bob` for a DM once the inbox knows it. */
	const roomName = (room: string): string => (inbox === undefined ? `#${room}` : labelIn(inbox.inbox, room));
	const setPrompt = (): void => {
		if (interactive) rl.setPrompt(safe`${roomName(client.room)}> `);
	};
	setPrompt();

	/** Writes a line without mangling what the user is typing at the prompt. */
	const print = (stream: NodeJS.WriteStream, line: string): void => {
		if (interactive) {
			clearLine(process.stdout, 0);
			cursorTo(process.stdout, 0);
		}
		stream.write(`${line}\n`);
		if (interactive) rl.prompt(true);
	};
	// Lines given to out() and info() are already escaped (built with `safe`).
	const out = (line: string): void => print(process.stdout, line);
	const info = (line: string): void => print(process.stderr, `* ${line}`);

	/** The oldest seq shown so far, for /history to page backwards from. */
	let oldestShown: number | undefined;
	/** Messages shown, by msgId, to name them in edit and reaction lines; `#<n>` references by seq. */
	const shown = new Map<string, ShownMessage & { msgId: string }>();
	const bySeq = new Map<number, string>();
	/** Your latest message seen in the room (here, from history, or from another client of yours). */
	let lastOwnSeen: { seq: number; msgId: string } | undefined;
	const noteShown = (event: RoomEvent): void => {
		oldestShown = oldestShown === undefined ? event.seq : Math.min(oldestShown, event.seq);
		if (event.type !== "message") return;
		shown.set(event.msgId, { seq: event.seq, author: event.author, msgId: event.msgId });
		bySeq.set(event.seq, event.msgId);
		if (shown.size > SHOWN_MAX) {
			const oldest = shown.keys().next().value;
			if (oldest !== undefined) {
				bySeq.delete(shown.get(oldest)?.seq ?? 0);
				shown.delete(oldest);
			}
		}
		if (event.author.id === client.user?.id && (lastOwnSeen === undefined || event.seq > lastOwnSeen.seq)) {
			lastOwnSeen = { seq: event.seq, msgId: event.msgId };
		}
	};
	const resolveRef = (ref: MessageRef): string | undefined => ("msgId" in ref ? ref.msgId : bySeq.get(ref.seq));

	/** Lines (messages, edits, reactions) not settled yet, by input line number. */
	const unsent = new Map<number, { text: string; settled: Promise<void> }>();
	let notSent = 0;
	/** Why sends rejected as `closed` were given up on, once the client is closed on purpose. */
	let givenUp: string | undefined;
	/** The msgId of the last message sent from this terminal, once acked (undefined if it was refused). */
	let lastOwnSend: Promise<{ seq: number; msgId: string } | undefined> | undefined;

	/** Credentials or a room refused, by any room's client: reported, and the exit code is 1. */
	let refusedBy: (why: string) => void = () => undefined;
	const refused = new Promise<number>((resolve) => {
		refusedBy = (why) => {
			info(safe`refused: ${why}`);
			resolve(1);
		};
	});

	const show = (event: RoomEvent): void => {
		noteShown(event);
		out(formatEvent(event, shown));
		// Someone at the terminal sees every line: that is what reading is.
		if (interactive) client.markRead(event.seq);
	};
	const typers = new TypingUsers();
	/** Shows what one room's client reports; a client switched away from is closed, and silent. */
	const attach = (room: ParleyClient): void => {
		const mine =
			<T>(listener: (payload: T) => void) =>
			(payload: T): void => {
				if (room === client) listener(payload);
			};
		room.on("message", mine(show));
		room.on("retract", mine(show));
		room.on("edit", mine(show));
		room.on("reaction", mine(show));
		room.on(
			"typing",
			mine(({ user }) => {
				if (!interactive || user.id === client.user?.id) return;
				typers.expire(Date.now());
				if (typers.heard(user, Date.now())) info(safe`${shownName(user)} is typing…`);
			}),
		);
		room.on(
			"message",
			mine((message) => typers.stopped(message.author.id)),
		);
		room.on(
			"welcome",
			mine((welcome) =>
				info(safe`in ${roomName(welcome.room)} as ${shownName(welcome.user)}; online: ${welcome.online.map(shownName).join(", ")}`),
			),
		);
		room.on(
			"presence",
			mine((presence) =>
				info("joined" in presence ? safe`${shownName(presence.joined)} joined` : safe`${shownName(presence.left)} left`),
			),
		);
		room.on(
			"saga",
			mine((saga) => info(safe`cross-post ${saga.sagaId}: ${saga.state}`)),
		);
		room.on(
			"error",
			mine((error) => {
				// Refusals of our sends are reported through their promises; rate limits are retried
				// by the library; refused credentials are reported by the status listener.
				if (error.id !== undefined || error.code === "rate_limited" || REFUSED.has(client.state)) return;
				info(safe`error ${error.code}: ${error.message}`);
			}),
		);
		room.on(
			"status",
			mine((status) => {
				if (status.state === "reconnecting")
					info(safe`connection lost (${status.reason ?? "?"}); retrying in ${status.delayMs ?? 0} ms`);
				else if (status.state === "live") info("live");
			}),
		);
		room.on("status", (status) => {
			if (REFUSED.has(status.state)) refusedBy(status.reason ?? status.state);
		});
	};
	attach(client);

	/**
	 * Follows one line that went into the outbox (a message, an edit, a reaction) until it is
	 * stored or refused. Not awaited: lines keep flowing while earlier ones wait for their ack;
	 * the library stores them in the order of these calls.
	 */
	const track = (lineNo: number, text: string, result: Promise<SendResult>): Promise<SendResult | undefined> => {
		const outcome = result.then(
			(ack) => {
				unsent.delete(lineNo);
				return ack;
			},
			(error: unknown) => {
				unsent.delete(lineNo);
				notSent++;
				const why =
					givenUp !== undefined && error instanceof ParleyClientError && error.code === "closed" ? givenUp : describe(error);
				info(safe`line ${lineNo} not sent (${why}): ${preview(text)}`);
				return undefined;
			},
		);
		unsent.set(lineNo, { text, settled: outcome.then(() => undefined) });
		return outcome;
	};

	const send = (lineNo: number, text: string, replyTo?: string): void => {
		const outcome = track(lineNo, text, client.send(text, replyTo === undefined ? {} : { replyTo }));
		lastOwnSend = outcome.then((ack) => (ack === undefined ? undefined : { seq: ack.seq, msgId: ack.msgId }));
	};

	/** The msgId a reference names, or a report that it names nothing shown. */
	const target = (lineNo: number, ref: MessageRef): string | undefined => {
		const msgId = resolveRef(ref);
		if (msgId === undefined)
			info(safe`line ${lineNo} not sent: no message #${"seq" in ref ? ref.seq : "?"} shown here (use /history, or give its msgId)`);
		return msgId;
	};

	/**
	 * Waits for the unacked lines; gives up only after QUIT_GRACE_MS without progress (no ack,
	 * and not held by the rate limit), so a long piped input at the room's rate still goes out.
	 */
	const drain = async (): Promise<boolean> => {
		let deadline = Date.now() + QUIT_GRACE_MS;
		const offAck = client.on("ack", () => (deadline = Math.max(deadline, Date.now() + QUIT_GRACE_MS)));
		const offQueue = client.on("queue", (queue) => {
			if (queue.heldUntil > 0) deadline = Math.max(deadline, queue.heldUntil + QUIT_GRACE_MS);
		});
		try {
			while (unsent.size > 0 && !TERMINAL.has(client.state)) {
				const left = deadline - Date.now();
				if (left <= 0) return false;
				await Promise.race([Promise.allSettled([...unsent.values()].map((entry) => entry.settled)), sleep(Math.min(left, 250))]);
			}
			return unsent.size === 0;
		} finally {
			offAck();
			offQueue();
		}
	};

	let finishing = false;
	const finish = async (code: number): Promise<number> => {
		if (finishing) return code;
		finishing = true;
		if (unsent.size > 0 && code === 0) {
			info(`waiting for ${unsent.size} message(s) to be acked`);
			if (!(await drain())) givenUp = `unacked: no ack within ${QUIT_GRACE_MS / 1000} s, giving up; it may not have been stored`;
		} else if (code !== 0) {
			givenUp = "could not connect before giving up";
		}
		client.close();
		inbox?.close();
		rl.close();
		// close() rejects what is left; let every report reach stderr before exiting.
		await Promise.allSettled([...unsent.values()].map((entry) => entry.settled));
		if (notSent > 0) info(`${notSent} message(s) not sent`);
		return code !== 0 ? code : notSent > 0 ? 1 : 0;
	};

	/** The inbox, started on first use; waits for it to be live, or shows what it has read so far. */
	const inboxReady = async (): Promise<InboxClient> => {
		if (inbox === undefined) {
			const started = new InboxClient({ url: args.url, ...args.credential });
			started.on("error", (error) => {
				if (started.state === "live" || started.state === "syncing") info(safe`inbox error ${error.code}: ${error.message}`);
			});
			inbox = started;
		}
		const current = inbox;
		let timer: ReturnType<typeof setTimeout> | undefined;
		const waited = new Promise<"late">((resolve) => {
			timer = setTimeout(() => resolve("late"), INBOX_WAIT_MS);
		});
		try {
			const outcome = await Promise.race([current.connect().then(() => "live" as const), waited]);
			// Not live in time, but the page is read: its counts are worth showing.
			if (outcome === "late" && current.user === undefined) {
				throw new ParleyClientError("timeout", `the inbox did not answer within ${INBOX_WAIT_MS / 1000} s`);
			}
			if (outcome === "late") info("inbox not live yet: showing the counts read so far");
		} finally {
			clearTimeout(timer);
		}
		return current;
	};

	/** Moves this terminal to another room, once the lines typed so far are stored (or given up on). */
	const switchTo = async (room: string): Promise<void> => {
		if (room === client.room) {
			info(safe`already in ${roomName(room)}`);
			return;
		}
		if (unsent.size > 0) {
			info(`waiting for ${unsent.size} message(s) to be acked before switching`);
			await drain();
		}
		const previous = client;
		client = openRoom(room);
		shown.clear();
		bySeq.clear();
		oldestShown = undefined;
		lastOwnSeen = undefined;
		lastOwnSend = undefined;
		attach(client);
		previous.close();
		setPrompt();
		info(safe`switching to ${roomName(room)}`);
		void client.connect().catch(() => undefined);
	};

	let lineNo = 0;
	const handle = async (line: string): Promise<"quit" | undefined> => {
		lineNo++;
		const command = parseLine(line, (word) => shown.has(word));
		switch (command.kind) {
			case "empty":
				return undefined;
			case "quit":
				return "quit";
			case "send":
				send(lineNo, command.text);
				return undefined;
			case "help":
				for (const helpLine of helpText().split("\n")) info(helpLine);
				return undefined;
			case "usage":
				info(command.message);
				return undefined;
			case "unknown":
				info(
					safe`line ${lineNo} not sent: unknown command ${preview(command.name, 30)}; /help lists the commands; start a line with // to send it with one / removed`,
				);
				return undefined;
			case "history":
				try {
					const before = oldestShown ?? client.lastSeq + 1;
					const page = await client.history({ before, limit: command.count });
					if (page.events.length === 0) {
						info("no older messages");
						return undefined;
					}
					out(safe`--- history #${page.events[0]?.seq ?? "?"}..#${page.events.at(-1)?.seq ?? "?"} ---`);
					for (const event of page.events) {
						noteShown(event);
						out(formatEvent(event, shown));
					}
					out("--- end of history ---");
				} catch (error) {
					info(safe`history failed (${describe(error)})`);
				}
				return undefined;
			case "search":
				try {
					for (const found of formatSearch(await client.search(command.q))) out(found);
				} catch (error) {
					info(safe`search failed (${describe(error)})`);
				}
				return undefined;
			case "rooms":
				try {
					const ready = await inboxReady();
					for (const line of formatRooms(ready.inbox, client.room)) out(line);
				} catch (error) {
					info(safe`rooms failed (${describe(error)})`);
				}
				return undefined;
			case "mentions":
				try {
					const ready = await inboxReady();
					if (command.more) {
						const added = await ready.loadOlderMentions();
						if (added === 0) info("no older mentions");
					}
					for (const line of formatMentions(ready.inbox)) out(line);
				} catch (error) {
					info(safe`mentions failed (${describe(error)})`);
				}
				return undefined;
			case "dm":
				try {
					const ready = await inboxReady();
					const dm = await ready.openDm(command.user);
					info(safe`${dm.created ? "started" : "opened"} a DM with ${shownName(dm.with)} (${dm.room})`);
					await switchTo(dm.room);
				} catch (error) {
					info(safe`dm failed (${describe(error)})`);
				}
				return undefined;
			case "delete": {
				const msgId = target(lineNo, command.ref);
				if (msgId === undefined) return undefined;
				try {
					const { seq } = await client.delete(msgId);
					info(safe`deleted ${msgId} (retract #${seq})`);
				} catch (error) {
					info(safe`delete failed (${describe(error)})`);
				}
				return undefined;
			}
			case "reply": {
				const msgId = target(lineNo, command.ref);
				if (msgId !== undefined) send(lineNo, command.text, msgId);
				return undefined;
			}
			case "react": {
				const msgId = target(lineNo, command.ref);
				if (msgId === undefined) return undefined;
				const result = command.remove ? client.unreact(msgId, command.emoji) : client.react(msgId, command.emoji);
				void track(lineNo, line.trim(), result);
				return undefined;
			}
			case "edit": {
				let msgId: string | undefined;
				if (command.ref !== undefined) msgId = target(lineNo, command.ref);
				else {
					// Your last message: the one sent from here (waiting for its ack if need be,
					// so the edit names it), else the latest one of yours shown.
					const sent = await lastOwnSend;
					msgId =
						sent !== undefined && (lastOwnSeen === undefined || sent.seq >= lastOwnSeen.seq) ? sent.msgId : lastOwnSeen?.msgId;
					if (msgId === undefined) info(safe`line ${lineNo} not sent: you have no message here to edit`);
				}
				if (msgId !== undefined) void track(lineNo, line.trim(), client.edit(msgId, command.text));
				return undefined;
			}
		}
	};

	void client.connect().catch(() => undefined);
	if (interactive) {
		rl.on("SIGINT", () => rl.close());
		// readline emits keypresses on a terminal's stdin: each one tells the room we are typing
		// (the library writes at most one frame per few seconds).
		process.stdin.on("keypress", () => client.typing());
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
		const connected = await Promise.race([
			client.connect().then(
				() => 0,
				() => 1,
			),
			grace,
		]);
		if (connected !== 0 && !REFUSED.has(client.state)) info("could not connect before giving up");
		return connected;
	})();
	return await finish(await Promise.race([input, refused]));
}

if (import.meta.main) {
	try {
		process.exitCode = await main();
	} catch (error) {
		// A bug, not a usage error: say what, without a stack trace in the user's terminal.
		process.stderr.write(safe`chat: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
		process.exitCode = 1;
	}
	// Sockets and timers are closed by now, but an HTTP keep-alive pool may hold the loop open.
	process.exit();
}
