/**
 * The terminal client (`npm run chat`) with piped stdio against the real `wrangler dev`.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import type { EventsPage } from "../../src/protocol.ts";
import { type DevServer, PROJECT_ROOT, startDevServer } from "../support/dev-server.ts";

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
	child: ChildProcessWithoutNullStreams;
	stdout: string[];
	stderr(): string;
	line(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
	type(line: string): void;
	exited: Promise<number | null>;
}

function chat(args: string[]): Chat {
	const child = spawn(process.execPath, ["client/cli.ts", "--url", server.url, ...args], {
		cwd: PROJECT_ROOT,
		stdio: ["pipe", "pipe", "pipe"],
		env: { ...process.env, NO_COLOR: "1" },
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
	const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
	return {
		child,
		stdout,
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
		type(line) {
			child.stdin.write(`${line}\n`);
		},
		exited,
	};
}

async function post(room: string, token: string, id: string, text: string): Promise<void> {
	const response = await fetch(`${server.url}/v1/rooms/${room}/messages`, {
		method: "POST",
		headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
		body: JSON.stringify({ id, text }),
	});
	expect(response.status).toBe(201);
}

async function stored(room: string): Promise<EventsPage> {
	const response = await fetch(`${server.url}/v1/rooms/${room}/events?after=0&limit=500&guest=auditor`);
	return (await response.json()) as EventsPage;
}

describe("terminal client", () => {
	it("chats, pages history, deletes and quits cleanly", async () => {
		const room = freshRoom();
		const carol = await mintToken({ sub: "carol", name: "Carol" });
		// 55 older messages: joining shows the latest 50, so /history has something to page.
		for (let i = 1; i <= 55; i++) await post(room, carol, `old-${i}`, `old ${i}`);

		const alice = chat(["--room", room, "--guest", "alice"]);
		await alice.line(/^#55 Carol: old 55 \[/);
		expect(alice.stdout.some((line) => line.startsWith("#5 "))).toBe(false);

		alice.type("hello from the terminal");
		alice.type("second line");
		const echoed = await alice.line(/^#56 alice: hello from the terminal \[([^\]]+)\]$/);
		await alice.line(/^#57 alice: second line \[/);

		// Someone else talks: it shows up live.
		await post(room, carol, "live-1", "hi alice");
		await alice.line(/^#58 Carol: hi alice \[/);

		alice.type("/history 3");
		await alice.line(/^--- history #3\.\.#5 ---$/);
		const start = alice.stdout.indexOf("--- history #3..#5 ---");
		expect(alice.stdout.slice(start + 1, start + 5)).toEqual([
			expect.stringMatching(/^#3 Carol: old 3 \[/),
			expect.stringMatching(/^#4 Carol: old 4 \[/),
			expect.stringMatching(/^#5 Carol: old 5 \[/),
			"--- end of history ---",
		]);

		const msgId = echoed[1] ?? "";
		alice.type(`/delete ${msgId}`);
		await alice.line(new RegExp(`^#59 \\(removed ${msgId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: deleted\\)$`));

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
		const texts = (await stored(room)).events.flatMap((e) => (e.type === "message" ? [e.text] : []));
		expect(texts).toEqual(lines);
	});

	it("exits 1 when the credentials are refused, and 2 on bad arguments", async () => {
		const refused = chat(["--room", freshRoom(), "--token", "not-a-token"]);
		refused.child.stdin.end();
		expect(await refused.exited).toBe(1);
		expect(refused.stderr()).toMatch(/refused/);

		const usage = chat(["--guest", "x"]);
		usage.child.stdin.end();
		expect(await usage.exited).toBe(2);
		expect(usage.stderr()).toMatch(/--room is required/);
	});
});
