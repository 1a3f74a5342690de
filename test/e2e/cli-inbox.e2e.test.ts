/**
 * The terminal client's view across rooms (v1.4) with piped stdio against the real `wrangler
 * dev`: `/rooms` lists the rooms with their unread and mention counts, `/mentions` the message
 * that mentions the user, and `/dm <user>` opens the DM with another user and moves the
 * terminal there, where the next line is stored; `/rooms` then lists the DM under the other
 * user's name.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import type { EventsPage } from "../../src/protocol.ts";
import { type DevServer, PROJECT_ROOT, startDevServer } from "../support/dev-server.ts";

const TIME = String.raw`(?:\d{4}-\d\d-\d\d )?\d\d:\d\d`;
/** Every wait of this file: long enough for an outbox task to be delivered, short enough to fail fast. */
const WAIT_MS = 30_000;

let server: DevServer;
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
	server = await startDevServer();
});

afterAll(async () => {
	for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
	await server?.stop();
});

const freshRoom = (): string => `room-${crypto.randomUUID().slice(0, 8)}`;

interface Chat {
	stdout: string[];
	stderr(): string;
	type(line: string): void;
	exited: Promise<number | null>;
}

function chat(args: string[], token: string): Chat {
	const { PARLEY_TOKEN: _ignored, ...inherited } = process.env;
	const child = spawn(process.execPath, ["client/cli.ts", "--url", server.url, ...args], {
		cwd: PROJECT_ROOT,
		stdio: ["pipe", "pipe", "pipe"],
		env: { ...inherited, NO_COLOR: "1", PARLEY_TOKEN: token },
	});
	children.push(child);
	const stdout: string[] = [];
	let partial = "";
	let errors = "";
	child.stdout.setEncoding("utf8");
	child.stdout.on("data", (chunk: string) => {
		const lines = (partial + chunk).split("\n");
		partial = lines.pop() ?? "";
		stdout.push(...lines);
	});
	child.stderr.setEncoding("utf8");
	child.stderr.on("data", (chunk: string) => (errors += chunk));
	child.stdin.on("error", () => undefined);
	const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
	return { stdout, stderr: () => errors, type: (line) => child.stdin.write(`${line}\n`), exited };
}

/** Waits for a line of `lines()` matching `pattern`, typing `again` every two seconds until it comes (counts arrive asynchronously). */
async function lineMatching(c: Chat, lines: () => string[], pattern: RegExp, again?: string): Promise<RegExpMatchArray> {
	const deadline = Date.now() + WAIT_MS;
	let next = Date.now() + 2000;
	for (;;) {
		for (const text of lines()) {
			const match = text.match(pattern);
			if (match !== null) return match;
		}
		if (Date.now() > deadline) throw new Error(`no line matching ${pattern}\nstdout:\n${c.stdout.join("\n")}\nstderr:\n${c.stderr()}`);
		if (again !== undefined && Date.now() > next) {
			c.type(again);
			next = Date.now() + 2000;
		}
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

async function post(room: string, token: string, text: string): Promise<void> {
	const id = crypto.randomUUID();
	for (let attempt = 1; ; attempt++) {
		const response = await fetch(`${server.url}/v1/rooms/${room}/messages`, {
			method: "POST",
			headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
			body: JSON.stringify({ id, text }),
		});
		const body = await response.text();
		if (response.status === 201 || response.status === 200) return;
		const restarted = body.startsWith("Your worker restarted mid-request");
		if (attempt < 20 && (response.status === 429 || restarted)) {
			await new Promise((resolve) => setTimeout(resolve, 300));
			continue;
		}
		throw new Error(`POST ${room}: ${response.status} ${body}`);
	}
}

async function storedTexts(room: string, token: string): Promise<string[]> {
	const response = await fetch(`${server.url}/v1/rooms/${room}/events?after=0&limit=500`, {
		headers: { authorization: `Bearer ${token}` },
	});
	if (response.status !== 200) return [];
	return ((await response.json()) as EventsPage).events.flatMap((e) => (e.type === "message" ? [e.text] : []));
}

describe("terminal client: rooms, mentions and DMs", () => {
	it("lists rooms with counts and mentions, and /dm moves the terminal into the DM", async () => {
		const suffix = crypto.randomUUID().slice(0, 6);
		const annId = `ann-${suffix}`;
		const bobId = `bob-${suffix}`;
		const annToken = await mintToken({ sub: annId, name: "Ann" });
		const bobToken = await mintToken({ sub: bobId, name: "Bob" });
		const [home, team] = [freshRoom(), freshRoom()];
		await post(team, annToken, "hi from Ann");
		await post(team, bobToken, "hey @Ann, a question");
		await post(team, bobToken, "and another thing");
		// Bob has used Parley (read his inbox), so his inbox knows the name a DM shows him by.
		expect((await fetch(`${server.url}/v1/me/inbox`, { headers: { authorization: `Bearer ${bobToken}` } })).status).toBe(200);

		const c = chat(["--room", home], annToken);
		const err = (): string[] => c.stderr().split("\n");
		await lineMatching(c, err, /^\* live$/);

		c.type("/rooms");
		const escaped = team.replace(/[.-]/g, "\\$&");
		await lineMatching(
			c,
			() => c.stdout,
			new RegExp(`^  #${escaped}: 2 unread, 1 mention — ${TIME} Bob: and another thing$`),
			"/rooms",
		);
		expect(c.stdout.some((line) => /^--- \d+ room\(s\): /.test(line))).toBe(true);

		c.type("/mentions");
		await lineMatching(c, () => c.stdout, new RegExp(`^${TIME} #${escaped} Bob: hey @Ann, a question \\[[^\\]]+\\]$`), "/mentions");

		c.type(`/dm ${bobId}`);
		const [, dm] = await lineMatching(c, err, /^\* (?:started|opened) a DM with Bob \((dm\.[0-9a-f]{40})\)$/);
		await lineMatching(c, err, /^\* switching to @Bob$/);
		c.type("hello Bob, from the terminal");
		c.type("/rooms");
		await lineMatching(c, () => c.stdout, new RegExp(`^\\* @Bob \\(${dm}\\): `), "/rooms");
		c.type("/quit");
		expect(await c.exited).toBe(0);
		expect(await storedTexts(dm ?? "", bobToken)).toEqual(["hello Bob, from the terminal"]);
		expect(c.stderr()).not.toMatch(/not sent|unexpected error/);
	});
});
