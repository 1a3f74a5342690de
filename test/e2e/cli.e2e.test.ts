/**
 * The terminal client (`npm run chat`) with piped stdio against the real `wrangler dev`, at the
 * default rate limit (10/s), plus one run against a hostile stand-in server.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { ParleyClient } from "../../client/index.ts";
import { mintToken } from "../../scripts/mint-token.ts";
import type { EventsPage } from "../../src/protocol.ts";
import { type DevServer, PROJECT_ROOT, startDevServer } from "../support/dev-server.ts";

/** The time on each transcript line: `14:03`, or `2026-11-30 14:03` on another day. */
const TIME = String.raw`(?:\d{4}-\d\d-\d\d )?\d\d:\d\d`;

let server: DevServer;
let scratch: string;
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
	server = await startDevServer({ vars: { RATE_LIMIT_PER_SEC: "10" } });
	scratch = mkdtempSync(join(tmpdir(), "parley-cli-"));
});

afterAll(async () => {
	for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
	await server?.stop();
	if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

const freshRoom = (): string => `room-${crypto.randomUUID().slice(0, 8)}`;

/** A stack trace line, as Node prints them: `    at fn (file:line:col)`. */
const STACK_LINE = /^\s+at /m;
/** What must never reach the terminal raw from the network: ESC, BEL, CR, the bidi override. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what the test looks for.
const RAW_HOSTILE = /[\x1b\x07\r\u202e\u009b]/;

interface Chat {
	child: ChildProcessWithoutNullStreams;
	stdout: string[];
	rawStdout(): string;
	stderr(): string;
	line(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
	/** Waits for a stderr line matching `pattern`. */
	errLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
	type(line: string): void;
	exited: Promise<number | null>;
}

interface ChatOptions {
	/** Extra environment (PARLEY_TOKEN is never inherited from the test's own environment). */
	env?: Record<string, string>;
	/** Server URL; default the dev server. `null` passes no --url at all. */
	url?: string | null;
}

function chat(args: string[], options: ChatOptions = {}): Chat {
	const { PARLEY_TOKEN: _ignored, ...inherited } = process.env;
	const url = options.url === undefined ? server.url : options.url;
	const child = spawn(process.execPath, ["client/cli.ts", ...(url === null ? [] : ["--url", url]), ...args], {
		cwd: PROJECT_ROOT,
		stdio: ["pipe", "pipe", "pipe"],
		env: { ...inherited, NO_COLOR: "1", ...options.env },
	});
	children.push(child);
	const stdout: string[] = [];
	let raw = "";
	let partial = "";
	let errors = "";
	child.stdout.setEncoding("utf8");
	child.stdout.on("data", (chunk: string) => {
		raw += chunk;
		const lines = (partial + chunk).split("\n");
		partial = lines.pop() ?? "";
		stdout.push(...lines);
	});
	child.stderr.setEncoding("utf8");
	child.stderr.on("data", (chunk: string) => (errors += chunk));
	// A CLI that exits before reading all of its input closes the pipe; that is not a test failure.
	child.stdin.on("error", () => undefined);
	const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
	return {
		child,
		stdout,
		rawStdout: () => raw,
		stderr: () => errors,
		async line(pattern, timeoutMs = 15_000) {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				for (const text of stdout) {
					const match = text.match(pattern);
					if (match !== null) return match;
				}
				if (Date.now() > deadline || child.exitCode !== null) {
					throw new Error(`no stdout line matching ${pattern}\nstdout:\n${stdout.join("\n")}\nstderr:\n${errors}`);
				}
				await new Promise((resolve) => setTimeout(resolve, 25));
			}
		},
		async errLine(pattern, timeoutMs = 15_000) {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				for (const text of errors.split("\n")) {
					const match = text.match(pattern);
					if (match !== null) return match;
				}
				if (Date.now() > deadline || child.exitCode !== null) {
					throw new Error(`no stderr line matching ${pattern}\nstdout:\n${stdout.join("\n")}\nstderr:\n${errors}`);
				}
				await new Promise((resolve) => setTimeout(resolve, 25));
			}
		},
		type(line) {
			child.stdin.write(`${line}\n`);
		},
		exited,
	};
}

/** Posts over HTTP, waiting out the rate limit (the server runs at the default 10/s). */
async function post(room: string, token: string, id: string, text: string): Promise<void> {
	for (let attempt = 1; ; attempt++) {
		const response = await fetch(`${server.url}/v1/rooms/${room}/messages`, {
			method: "POST",
			headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
			body: JSON.stringify({ id, text }),
		});
		const body = await response.text();
		if (response.status === 201) return;
		const restarted = body.startsWith("Your worker restarted mid-request");
		if (attempt < 20 && (response.status === 429 || restarted)) {
			const retryAfterMs = response.status === 429 ? ((JSON.parse(body) as { retryAfterMs?: number }).retryAfterMs ?? 500) : 250;
			await new Promise((resolve) => setTimeout(resolve, retryAfterMs));
			continue;
		}
		throw new Error(`POST ${room}: ${response.status} ${body}`);
	}
}

/** A stand-in server on a loopback port that speaks the socket protocol as `onSocket` says. */
async function standIn(onSocket: (socket: WebSocket) => void): Promise<{ url: string; close(): Promise<void> }> {
	const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
	await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
	const address = wss.address();
	const port = typeof address === "object" && address !== null ? address.port : 0;
	wss.on("connection", onSocket);
	return {
		url: `http://127.0.0.1:${port}`,
		async close() {
			for (const client of wss.clients) client.terminate();
			await new Promise<void>((resolve) => wss.close(() => resolve()));
		},
	};
}

async function stored(room: string): Promise<EventsPage> {
	const response = await fetch(`${server.url}/v1/rooms/${room}/events?after=0&limit=500&guest=auditor`);
	return (await response.json()) as EventsPage;
}

async function storedTexts(room: string): Promise<string[]> {
	return (await stored(room)).events.flatMap((e) => (e.type === "message" ? [e.text] : []));
}

describe("terminal client", () => {
	it("chats, pages history, deletes and quits cleanly", async () => {
		const room = freshRoom();
		const carol = await mintToken({ sub: "carol", name: "Carol" });
		// 55 older messages: joining shows the latest 50, so /history has something to page.
		for (let i = 1; i <= 55; i++) await post(room, carol, `old-${i}`, `old ${i}`);

		const alice = chat(["--room", room, "--guest", "alice"]);
		await alice.line(/^#55 (?:\d{4}-\d\d-\d\d )?\d\d:\d\d Carol: old 55 \[/);
		expect(alice.stdout.some((line) => line.startsWith("#5 "))).toBe(false);

		alice.type("hello from the terminal");
		alice.type("second line");
		const echoed = await alice.line(/^#56 (?:\d{4}-\d\d-\d\d )?\d\d:\d\d alice \(guest\): hello from the terminal \[([^\]]+)\]$/);
		await alice.line(/^#57 (?:\d{4}-\d\d-\d\d )?\d\d:\d\d alice \(guest\): second line \[/);

		// Someone else talks: it shows up live.
		await post(room, carol, "live-1", "hi alice");
		await alice.line(/^#58 (?:\d{4}-\d\d-\d\d )?\d\d:\d\d Carol: hi alice \[/);

		alice.type("/history 3");
		await alice.line(/^--- history #3\.\.#5 ---$/);
		// The page's lines may reach the pipe in more than one chunk.
		await alice.line(/^--- end of history ---$/);
		const start = alice.stdout.indexOf("--- history #3..#5 ---");
		expect(alice.stdout.slice(start + 1, start + 5)).toEqual([
			expect.stringMatching(/^#3 (?:\d{4}-\d\d-\d\d )?\d\d:\d\d Carol: old 3 \[/),
			expect.stringMatching(/^#4 (?:\d{4}-\d\d-\d\d )?\d\d:\d\d Carol: old 4 \[/),
			expect.stringMatching(/^#5 (?:\d{4}-\d\d-\d\d )?\d\d:\d\d Carol: old 5 \[/),
			"--- end of history ---",
		]);

		const msgId = echoed[1] ?? "";
		alice.type(`/delete ${msgId}`);
		await alice.line(new RegExp(`^#59 ${TIME} \\(removed ${msgId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: deleted\\)$`));

		alice.type("/quit");
		expect(await alice.exited).toBe(0);

		const events = (await stored(room)).events;
		expect(events.filter((e) => e.type === "message" && e.text === "second line")).toHaveLength(1);
		expect(events.find((e) => e.type === "retract" && e.msgId === msgId)).toMatchObject({ seq: 59, reason: "deleted" });
	});

	it("sends piped lines and exits 0 at the end of input once they are stored", async () => {
		const room = freshRoom();
		const bob = chat(["--room", room, "--guest", "bob"]);
		const lines = Array.from({ length: 12 }, (_, i) => `piped ${i}`);
		bob.child.stdin.end(`${lines.join("\n")}\n`);
		expect(await bob.exited).toBe(0);
		expect(await storedTexts(room)).toEqual(lines);
	});

	it("stores 40 lines piped at once exactly once and in order at the default rate limit", async () => {
		const room = freshRoom();
		const bob = chat(["--room", room, "--guest", "bob"]);
		const lines = Array.from({ length: 40 }, (_, i) => `burst ${i}`);
		bob.child.stdin.end(`${lines.join("\n")}\n`);
		expect(await bob.exited).toBe(0);
		expect(bob.stderr()).not.toMatch(/not sent|rate_limited/);
		expect(await storedTexts(room)).toEqual(lines);
	});

	it("reports a line over the room's limit as not sent at once, still sends the next, and exits 1", async () => {
		const room = freshRoom();
		const started = Date.now();
		const zed = chat(["--room", room, "--guest", "zed"]);
		zed.child.stdin.end(`${"Z".repeat(20_000)}\nafter the big one\n`);
		expect(await zed.exited).toBe(1);
		// Refused on the spot, not retried until the exit grace period (10 s) runs out.
		expect(Date.now() - started).toBeLessThan(9_000);
		const stderr = zed.stderr();
		expect(stderr).toMatch(/^\* line 1 not sent \(too_large: [^)]*\): Z{60}… \(20000 chars\)$/m);
		expect(stderr).toMatch(/^\* 1 message\(s\) not sent$/m);
		expect(stderr).not.toMatch(STACK_LINE);
		expect(await storedTexts(room)).toEqual(["after the big one"]);
	});

	it("reads the token from --token-file and from PARLEY_TOKEN", async () => {
		const room = freshRoom();
		const file = join(scratch, "ann.token");
		// With a trailing newline and spaces, as `npm run -s token > file` and editors leave it.
		writeFileSync(file, `  ${await mintToken({ sub: "ann", name: "Ann" })}\n\n`);
		const ann = chat(["--room", room, "--token-file", file]);
		ann.child.stdin.end("from the token file\n");
		expect(await ann.exited).toBe(0);

		const ben = chat(["--room", room], { env: { PARLEY_TOKEN: await mintToken({ sub: "ben", name: "Ben" }) } });
		ben.child.stdin.end("from the environment\n");
		expect(await ben.exited).toBe(0);

		const events = (await stored(room)).events.flatMap((e) => (e.type === "message" ? [[e.author.id, e.author.name, e.text]] : []));
		expect(events).toEqual([
			["ann", "Ann", "from the token file"],
			["ben", "Ben", "from the environment"],
		]);
	});

	it("reads --token-file again on reconnect, so a refreshed token is picked up", async () => {
		const room = freshRoom();
		const file = join(scratch, "refresh.token");
		// Long enough for a slow start to connect with it; expiry is checked in whole seconds.
		const expiresAt = Date.now() + 6000;
		writeFileSync(file, `${await mintToken({ sub: "ann", name: "Ann", ttlSeconds: 6 })}\n`);
		const ann = chat(["--room", room, "--token-file", file]);
		await ann.errLine(/^\* live$/);
		writeFileSync(file, `${await mintToken({ sub: "ann", name: "Ann Two" })}\n`);
		// The first frame after the old token's expiry makes the server close the socket
		// (4001); the client reconnects with whatever the file holds now.
		await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 1200));
		ann.type("after the refresh");
		await ann.errLine(/^\* in #\S+ as Ann Two;/);
		await ann.line(/^#1 (?:\d{4}-\d\d-\d\d )?\d\d:\d\d Ann Two: after the refresh \[/);
		ann.child.stdin.end();
		expect(await ann.exited).toBe(0);
		const events = (await stored(room)).events.flatMap((e) => (e.type === "message" ? [[e.author.name, e.text]] : []));
		expect(events).toEqual([["Ann Two", "after the refresh"]]);
	});

	it("refuses a missing or empty token file and a second credential source, with exit 2", async () => {
		const empty = join(scratch, "empty.token");
		writeFileSync(empty, "\n");
		const token = await mintToken({ sub: "ann", name: "Ann" });
		const cases: [string[], Record<string, string>, RegExp][] = [
			[["--token-file", join(scratch, "missing.token")], {}, /cannot read --token-file .*missing\.token/],
			[["--token-file", empty], {}, /is empty/],
			[["--guest", "ann"], { PARLEY_TOKEN: token }, /exactly one credential source, not --guest and PARLEY_TOKEN/],
			[["--token", token, "--token-file", empty], {}, /exactly one credential source, not --token and --token-file/],
			[[], {}, /no credentials/],
		];
		for (const [args, env, message] of cases) {
			const run = chat(["--room", freshRoom(), ...args], { env });
			run.child.stdin.end();
			expect(await run.exited, args.join(" ")).toBe(2);
			expect(run.stderr()).toMatch(message);
			expect(run.stderr()).toMatch(/^usage: /m);
			expect(run.stderr()).not.toMatch(STACK_LINE);
		}
	});

	it("shows control characters, escape sequences and bidi overrides from others escaped, never raw", async () => {
		const room = freshRoom();
		const hostile = "a\x1b]0;pwned\x07b\x1b[2Jc\rd\u202ee";
		// Guest names are restricted, so the hostile name comes in a token's `name` claim.
		const mallory = await mintToken({ sub: "mallory", name: `Mal\x1b]0;pwned\x07\x1b[2J\r\u202elory` });
		await post(room, mallory, "evil-1", hostile);

		const watcher = chat(["--room", room, "--guest", "watcher"]);
		const shown = await watcher.line(/^#1 .*$/);
		watcher.child.stdin.end();
		expect(await watcher.exited).toBe(0);

		expect(shown[0]).toMatch(/^#1 (?:\d{4}-\d\d-\d\d )?\d\d:\d\d Mal.*lory: a\\x1b\]0;pwned\\x07b\\x1b\[2Jc\\rd\\u202ee \[/);
		expect(watcher.rawStdout()).not.toMatch(RAW_HOSTILE);
		expect(watcher.stderr()).not.toMatch(RAW_HOSTILE);
	});

	it("escapes everything a hostile server sends: names, rooms, ids, reasons and error messages", async () => {
		const evil = "\x1b]0;pwned\x07\x1b[2J\r\u202e\u009b";
		const user = { id: `guest:eve`, name: `eve${evil}` };
		const stand = await standIn((socket) => {
			const send = (frame: unknown): void => socket.send(JSON.stringify(frame));
			send({
				type: "welcome",
				room: `lobby${evil}`,
				user,
				lastSeq: 2,
				online: [user],
				limits: { maxFrameBytes: 32_768, maxMessageChars: 4000, ratePerSec: 10, burst: 20 },
			});
			send({
				type: "message",
				seq: 1,
				msgId: `id${evil}`,
				author: user,
				text: `hi${evil}`,
				ts: 1,
				traceId: "t",
				from: { room: `other${evil}`, msgId: "m", sagaId: "s" },
			});
			send({ type: "retract", seq: 2, msgId: `gone${evil}`, reason: `deleted${evil}`, ts: 2, traceId: "t" });
			send({ type: "presence", joined: { id: "x", name: `joiner${evil}` } });
			send({ type: "saga", sagaId: `saga${evil}`, state: "succeeded", steps: [] });
			send({ type: "error", code: "internal", message: `boom${evil}` });
			send({ type: "synced", through: 2 });
		});
		try {
			const run = chat(["--room", "lobby", "--guest", "eve"], { url: stand.url });
			await run.line(/^#2 /);
			run.child.stdin.end();
			expect(await run.exited).toBe(0);
			const escaped = "\\x1b]0;pwned\\x07\\x1b[2J\\r\\u202e\\x9b";
			// Every line carries the local time (here 1970-01-01, from ts 1 and 2).
			const lines = run.stdout.map((line) => line.replace(new RegExp(`^(#\\d+) ${TIME} `), "$1 "));
			expect(lines).toContain(`#1 eve${escaped} (guest) (from #other${escaped}): hi${escaped} [id${escaped}]`);
			expect(lines).toContain(`#2 (removed gone${escaped}: deleted${escaped})`);
			const stderr = run.stderr();
			for (const part of [
				`in #lobby${escaped} as eve${escaped}`,
				`joiner${escaped} joined`,
				`cross-post saga${escaped}`,
				`error internal: boom${escaped}`,
			]) {
				expect(stderr).toContain(part);
			}
			expect(run.rawStdout()).not.toMatch(RAW_HOSTILE);
			expect(stderr).not.toMatch(RAW_HOSTILE);
		} finally {
			await stand.close();
		}
	});

	it("reports a send the server refuses for good with its code, and one never acked at exit, with exit 1", async () => {
		const limits = { maxFrameBytes: 32_768, maxMessageChars: 4000, ratePerSec: 10, burst: 20 };
		const received: string[] = [];
		const stand = await standIn((socket) => {
			const user = { id: "guest:ida", name: "ida" };
			let seq = 0;
			socket.send(JSON.stringify({ type: "welcome", room: "lobby", user, lastSeq: 0, online: [user], limits }));
			socket.send(JSON.stringify({ type: "synced", through: 0 }));
			socket.on("message", (data) => {
				if (String(data) === "ping") return;
				const frame = JSON.parse(String(data)) as { type: string; id: string; text: string };
				if (frame.type !== "send") return;
				received.push(frame.text);
				if (frame.text === "refuse me") {
					socket.send(JSON.stringify({ type: "error", code: "read_only", message: "the room is read-only", id: frame.id }));
				} else if (frame.text !== "never acked") {
					seq++;
					socket.send(JSON.stringify({ type: "ack", id: frame.id, seq, msgId: `${seq}-x`, traceId: "t", duplicate: false }));
				}
			});
		});
		try {
			const run = chat(["--room", "lobby", "--guest", "ida"], { url: stand.url });
			run.child.stdin.end("refuse me\nfine\nnever acked\n");
			// Gives up after the 10 s grace without progress.
			expect(await run.exited).toBe(1);
			const stderr = run.stderr();
			expect(stderr).toMatch(/^\* line 1 not sent \(read_only: the room is read-only\): refuse me$/m);
			expect(stderr).toMatch(
				/^\* line 3 not sent \(unacked: no ack within 10 s, giving up; it may not have been stored\): never acked$/m,
			);
			expect(stderr).not.toMatch(/line 2 not sent/);
			expect(stderr).toMatch(/^\* 2 message\(s\) not sent$/m);
			expect(received).toEqual(["refuse me", "fine", "never acked"]);
		} finally {
			await stand.close();
		}
	});

	it("exits 1 when the credentials are refused", async () => {
		const refused = chat(["--room", freshRoom(), "--token", "not-a-token"]);
		refused.child.stdin.end();
		expect(await refused.exited).toBe(1);
		expect(refused.stderr()).toMatch(/refused/);
	});

	it("prints the usage for --help (exit 0) and for bad arguments (exit 2), never a stack trace", async () => {
		const help = chat(["--help"], { url: null });
		help.child.stdin.end();
		expect(await help.exited).toBe(0);
		expect(help.rawStdout()).toMatch(/^usage: npm run chat -- --room <room>/);
		expect(help.rawStdout()).toMatch(/--token-file <path>/);
		expect(help.stderr()).toBe("");

		const cases: [string[], RegExp][] = [
			[["--guest", "x"], /--room is required/],
			[["--room"], /--room/],
			[["--room", "r", "--guest", "x", "--bogus"], /--bogus/],
			[["--room", "r", "--guest", "x", "stray"], /stray/],
			[["--room", "Not A Room", "--guest", "x"], /not a room id/],
			[["--room", "r", "--guest", "not a name!"], /guest name/],
			[["--room", "r", "--guest", "x", "--since", "soon"], /--since/],
			[["--room", "r", "--guest", "x", "--url", "nowhere"], /--url nowhere is not a URL/],
			[["--room", "r", "--guest", "x", "--url", "ftp://example.com"], /--url must be http/],
			[["--room", "r", "--token", "  "], /--token is empty/],
		];
		for (const [args, message] of cases) {
			const run = chat(args, { url: null });
			run.child.stdin.end();
			expect(await run.exited, args.join(" ")).toBe(2);
			expect(run.stderr()).toMatch(message);
			expect(run.stderr()).toMatch(/^usage: /m);
			expect(run.stderr()).not.toMatch(STACK_LINE);
			expect(run.rawStdout()).toBe("");
		}
	});
});

describe("terminal client, v1.3 chat commands", () => {
	it("edits the last message, replies, reacts, searches and lists every command in /help", async () => {
		const room = freshRoom();
		const bob = new ParleyClient({ url: server.url, room, token: await mintToken({ sub: "bob", name: "Bob" }) });
		try {
			await bob.connect();
			const alice = chat(["--room", room, "--guest", "alice"]);
			await alice.errLine(/^\* live$/);
			alice.type("/help");
			for (const command of ["/edit", "/reply", "/react", "/unreact", "/delete", "/search", "/history", "/help", "/quit"]) {
				await alice.errLine(new RegExp(`^\\*\\s+${command.replace("/", "\\/")} `));
			}

			alice.type("helo everyone");
			// Typed at once: the edit names the message once it is acked, and goes out after it.
			alice.type("/edit hello everyone");
			await alice.line(new RegExp(`^#2 ${TIME} alice \\(guest\\) edited #1: hello everyone$`));
			const asked = await bob.send("lunch?", { id: "b1" });
			await alice.line(new RegExp(`^#3 ${TIME} Bob: lunch\\? \\[`));
			alice.type("/reply 3 yes, at noon");
			await alice.line(new RegExp(`^#4 ${TIME} alice \\(guest\\) \\(reply to Bob: "lunch\\?"\\): yes, at noon \\[`));
			alice.type(`/react ${asked.msgId} 👍`);
			await alice.line(new RegExp(`^#5 ${TIME} alice \\(guest\\) reacted 👍 to #3$`));
			alice.type("/react 3 not-an-emoji");
			await alice.errLine(/^\* line \d+ not sent \(bad_request: .*\): \/react 3 not-an-emoji$/);
			alice.type("/edit #3 mine now");
			await alice.errLine(/^\* line \d+ not sent \(forbidden: .*\): \/edit #3 mine now$/);
			alice.type("/search noon");
			await alice.line(/^--- 1 message\(s\) matching "noon", newest first ---$/);
			alice.type("/quit");
			expect(await alice.exited).toBe(1);

			const events = (await stored(room)).events;
			expect(events.map((e) => e.type)).toEqual(["message", "message.edited", "message", "message", "reaction.added"]);
			expect(events[0]).toMatchObject({ text: "hello everyone", editSeq: 2 });
			expect(events[3]).toMatchObject({ text: "yes, at noon", replyTo: { msgId: asked.msgId } });
		} finally {
			bob.close();
		}
	}, 60_000);
});
