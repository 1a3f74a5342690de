/**
 * Presence in big rooms (v1.2): coalesced windows, the switch to counts above the list limit
 * (PRESENCE_LIST_LIMIT is 10 in these tests, see vitest.config.ts), the capped welcome, the
 * member list, and v1 sockets beside v1.2 ones.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, it } from "vitest";
import type { AnyServerFrame, MembersPage, PresenceUpdateFrame, UserRef, WelcomeFrame } from "../../src/protocol.ts";
import { api, errorCode, freshRoom, join, type TestSocket, token } from "./helpers.ts";

const LIMIT = 10;

function updates(socket: TestSocket): PresenceUpdateFrame[] {
	return (socket.frames as Array<AnyServerFrame | string>).filter(
		(f): f is PresenceUpdateFrame => typeof f !== "string" && f.type === "presence" && "mode" in f,
	);
}

/** What a v1.2 client makes of its welcome and updates. */
function view(socket: TestSocket): Set<string> {
	const welcome = socket.ofType("welcome")[0] as WelcomeFrame;
	let online = new Set(welcome.online.map((u) => u.id));
	for (const frame of updates(socket)) {
		if (frame.members !== undefined) online = new Set(frame.members.map((u) => u.id));
		for (const u of frame.joined ?? []) online.add(u.id);
		for (const u of frame.left ?? []) online.delete(u.id);
	}
	return online;
}

const guests = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `g${from + i}`);

async function joinAll(room: string, names: string[], features = ""): Promise<TestSocket[]> {
	return await Promise.all(names.map((name) => join(room, `guest=${name}${features === "" ? "" : `&features=${features}`}`)));
}

async function members(room: string, query = "", auth = "guest=reader"): Promise<Response> {
	return await api(`/v1/rooms/${room}/members?${auth}${query === "" ? "" : `&${query}`}`);
}

describe("coalesced presence (features=presence)", () => {
	it("sends one frame per window for a burst of joins, with the v1 frames still going to v1 sockets", async ({ expect }) => {
		const room = freshRoom();
		const watcher = await join(room, "guest=watcher&features=presence");
		const legacy = await join(room, "guest=legacy");
		const burst = await joinAll(room, guests(5));
		await watcher.until(() => view(watcher).size === 7);
		const frames = updates(watcher);
		// Legacy's join may have its own window; the burst shares at most one more.
		expect(frames.length).toBeLessThanOrEqual(2);
		expect(frames.every((f) => f.mode === "list")).toBe(true);
		expect(frames.at(-1)?.count).toBe(7);
		// The v1 socket got a v1 frame per first socket, and no coalesced ones.
		await legacy.until(() => legacy.ofType("presence").length === 5);
		expect(
			legacy
				.ofType("presence")
				.map((f) => ("joined" in f ? f.joined.id : "?"))
				.sort(),
		).toEqual(guests(5).map((g) => `guest:${g}`));
		expect(updates(legacy)).toEqual([]);

		for (const socket of burst.slice(0, 3)) socket.close();
		await watcher.until(() => view(watcher).size === 4);
		await legacy.until(() => legacy.ofType("presence").filter((f) => "left" in f).length === 3);
		// No window stays open after the burst it served.
		await watcher.until(() => updates(watcher).at(-1)?.count === 4);
		await new Promise((resolve) => setTimeout(resolve, 400));
		const open = await runInDurableObject(
			env.ROOM.getByName(room),
			(instance) => (instance as unknown as { presenceTimer: unknown }).presenceTimer,
		);
		expect(open).toBeUndefined();
	});

	it("counts instead of listing above the limit, caps the welcome, and lists everyone again below it", async ({ expect }) => {
		const room = freshRoom();
		const watcher = await join(room, "guest=watcher&features=presence");
		const legacy = await join(room, "guest=legacy");
		const crowd = await joinAll(room, guests(LIMIT + 2), "presence");
		const total = LIMIT + 4;
		await watcher.until(() => updates(watcher).at(-1)?.count === total);
		expect(updates(watcher).at(-1)).toEqual({ type: "presence", mode: "count", count: total });

		// A welcome over the limit is a sample starting with the joiner, with the total beside it.
		const late = await join(room, "guest=late&features=presence");
		const welcome = late.ofType("welcome")[0] as WelcomeFrame;
		expect(welcome.onlineTotal).toBe(total + 1);
		expect(welcome.online.length).toBeLessThanOrEqual(LIMIT);
		expect(welcome.online[0]).toEqual({ id: "guest:late", name: "late" });
		// v1 sockets hear nothing while the room is over its limit: those frames would cost n².
		// (Legacy joined second: it heard the joins that kept the room at or under the limit.)
		expect(legacy.ofType("presence")).toHaveLength(LIMIT - 2);

		// Back under the limit: the whole list, once, then deltas again.
		for (const socket of crowd.slice(0, 8)) socket.close();
		await late.until(() => updates(late).some((f) => f.mode === "list"));
		const back = updates(late).find((f) => f.mode === "list");
		expect(back?.members?.map((u) => u.id).sort()).toEqual(
			["guest:watcher", "guest:legacy", "guest:late", ...guests(4, 8).map((g) => `guest:${g}`)].sort(),
		);
		await watcher.until(() => view(watcher).size === 7);
		expect([...view(watcher)].sort()).toEqual([...view(late)].sort());
	});

	it("pages the member list by user id, with the count and the same access rules as the room", async ({ expect }) => {
		const room = freshRoom();
		const names = guests(12);
		const sockets = await joinAll(room, names);
		const seen: UserRef[] = [];
		let cursor: string | undefined;
		let pages = 0;
		do {
			const response = await members(room, `limit=5${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`);
			expect(response.status).toBe(200);
			const page = (await response.json()) as MembersPage;
			expect(page.count).toBe(12);
			seen.push(...page.members);
			cursor = page.cursor;
			pages++;
		} while (cursor !== undefined);
		expect(pages).toBe(3);
		expect(seen.map((u) => u.id)).toEqual(names.map((n) => `guest:${n}`).sort());

		sockets[0]?.close();
		await (async () => {
			for (let i = 0; i < 50; i++) {
				const page = (await (await members(room)).json()) as MembersPage;
				if (page.count === 11) return;
				await new Promise((resolve) => setTimeout(resolve, 20));
			}
			throw new Error("the leave never showed in the member list");
		})();

		expect((await members(room, "", "")).status).toBe(401);
		expect(await errorCode(await members(room, "limit=0"))).toBe("bad_request");
		expect(await errorCode(await members(room, "limit=501"))).toBe("bad_request");
		const elsewhere = await token({ sub: "u", rooms: ["elsewhere"] });
		expect((await api(`/v1/rooms/${room}/members`, { token: elsewhere })).status).toBe(403);
	});
});
