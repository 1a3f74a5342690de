import { describe, it } from "vitest";
import {
	PRESENCE_FRAMES_PER_SEC,
	PRESENCE_WINDOW_MS,
	pageSorted,
	presenceMode,
	Roster,
	welcomeList,
	windowMs,
} from "../../src/presence.ts";
import { ONLINE_SAMPLE, type PresenceUpdateFrame, type UserRef } from "../../src/protocol.ts";

const user = (id: string): UserRef => ({ id, name: id.toUpperCase() });
const ids = (users: UserRef[] | undefined): string[] => (users ?? []).map((u) => u.id);

/** What a v1.2 client does with the frames: set updates, or a replacement. */
function apply(list: Set<string>, frame: PresenceUpdateFrame): Set<string> {
	if (frame.members !== undefined) return new Set(ids(frame.members));
	const next = new Set(list);
	for (const u of frame.joined ?? []) next.add(u.id);
	for (const u of frame.left ?? []) next.delete(u.id);
	return next;
}

describe("the presence coalescer", () => {
	it("turns a burst of joins and leaves into one frame with both lists", ({ expect }) => {
		const roster = new Roster([user("ann")], 10);
		expect(roster.flush()).toBeUndefined();
		roster.join(user("bob"));
		roster.join(user("cy"));
		roster.leave(user("ann"));
		expect(roster.pending).toBe(true);
		const frame = roster.flush();
		expect(frame).toEqual({ type: "presence", mode: "list", count: 2, joined: [user("bob"), user("cy")], left: [user("ann")] });
		expect(roster.pending).toBe(false);
		expect(roster.flush()).toBeUndefined();
	});

	it("reports a user who came and went within a window as left, for sockets welcomed in between", ({ expect }) => {
		const roster = new Roster([], 10);
		roster.join(user("ann"));
		// A socket welcomed now lists ann...
		const seen = new Set(ids(roster.welcome(user("bob")).online));
		expect(seen.has("ann")).toBe(true);
		roster.leave(user("ann"));
		const frame = roster.flush();
		expect(frame).toMatchObject({ joined: [], left: [user("ann")], count: 0 });
		// ...and the frame corrects it.
		expect(apply(seen, frame as PresenceUpdateFrame).has("ann")).toBe(false);
	});

	it("keeps the last ref of a user touched twice, and reports the leave of someone it did not list", ({ expect }) => {
		const roster = new Roster([], 10);
		roster.join(user("ann"));
		roster.leave(user("ann"));
		roster.join({ id: "ann", name: "Ann again" });
		// A room woken by a close lists only the sockets still open: the leaver is already missing.
		roster.leave(user("zed"));
		expect(roster.flush()).toEqual({
			type: "presence",
			mode: "list",
			count: 1,
			joined: [{ id: "ann", name: "Ann again" }],
			left: [user("zed")],
		});
	});

	it("switches to counts above the list limit, and back to the whole list below it", ({ expect }) => {
		const roster = new Roster([], 3);
		for (const id of ["a", "b", "c"]) roster.join(user(id));
		expect(roster.flush()).toMatchObject({ mode: "list", count: 3 });
		roster.join(user("d"));
		expect(roster.mode).toBe("count");
		expect(roster.flush()).toEqual({ type: "presence", mode: "count", count: 4 });
		roster.join(user("e"));
		expect(roster.flush()).toEqual({ type: "presence", mode: "count", count: 5 });
		roster.leave(user("a"));
		roster.leave(user("b"));
		// Back under the limit: the lists missed while counting, so the whole list replaces them.
		expect(roster.flush()).toEqual({ type: "presence", mode: "list", count: 3, members: [user("c"), user("d"), user("e")] });
		roster.leave(user("c"));
		expect(roster.flush()).toEqual({ type: "presence", mode: "list", count: 2, joined: [], left: [user("c")] });
	});

	it("keeps every client that applies the frames in step with the truth, whenever it joined", ({ expect }) => {
		const roster = new Roster([], 5);
		const clients: Array<Set<string>> = [];
		let seed = 7;
		const random = (n: number): number => {
			seed = (seed * 1103515245 + 12345) % 2 ** 31;
			return seed % n;
		};
		for (let step = 0; step < 2000; step++) {
			const who = user(`u${random(9)}`);
			if (roster.has(who.id)) roster.leave(who);
			else roster.join(who);
			if (random(4) === 0) clients.push(new Set(ids(roster.welcome(who).online)));
			if (random(3) === 0) {
				const frame = roster.flush();
				if (frame !== undefined) for (const [i, list] of clients.entries()) clients[i] = apply(list, frame);
			}
		}
		const last = roster.flush();
		if (last !== undefined) for (const [i, list] of clients.entries()) clients[i] = apply(list, last);
		const truth = new Set(ids(roster.page({ limit: 100 }).members));
		// In count mode lists are not kept; bring the room under its limit to check them.
		for (const id of [...truth]) {
			if (roster.count <= 5) break;
			roster.leave(user(id));
			truth.delete(id);
		}
		const final = roster.flush();
		if (final !== undefined) for (const [i, list] of clients.entries()) clients[i] = apply(list, final);
		expect(clients.length).toBeGreaterThan(100);
		for (const list of clients) expect([...list].sort()).toEqual([...truth].sort());
	});
});

describe("socket counts", () => {
	it("joins a user on their first socket and leaves them on their last", ({ expect }) => {
		const roster = new Roster([user("ann"), user("ann"), user("bob")], 10);
		expect([roster.sockets("ann"), roster.sockets("bob"), roster.count]).toEqual([2, 1, 2]);
		expect(roster.connect(user("cy"))).toBe(true);
		expect(roster.connect(user("cy"))).toBe(false);
		expect(roster.disconnect(user("ann"))).toBe(false);
		expect(roster.disconnect(user("ann"))).toBe(true);
		expect(roster.has("ann")).toBe(false);
		expect(roster.flush()).toEqual({ type: "presence", mode: "list", count: 2, joined: [user("cy")], left: [user("ann")] });
		// A count never goes below zero, and a recount from the runtime's own list wins.
		expect(roster.disconnect(user("zed"))).toBe(true);
		roster.recount(user("bob"), 3);
		expect(roster.sockets("bob")).toBe(3);
		roster.recount(user("dee"), 1);
		expect(roster.has("dee")).toBe(true);
		roster.recount(user("dee"), 0);
		expect([roster.sockets("dee"), roster.has("dee")]).toEqual([0, false]);
	});
});

describe("presence windows and modes", () => {
	it("lists up to the limit and counts above it", ({ expect }) => {
		expect(presenceMode(200, 200)).toBe("list");
		expect(presenceMode(201, 200)).toBe("count");
		expect(presenceMode(0, 0)).toBe("list");
	});

	it("stretches the window with the sockets it reaches, so presence frames per second stay flat", ({ expect }) => {
		expect(windowMs(0)).toBe(PRESENCE_WINDOW_MS);
		expect(windowMs(1250)).toBe(PRESENCE_WINDOW_MS);
		expect(windowMs(5000)).toBe(1000);
		expect(windowMs(32_768)).toBe(6554);
		for (const sockets of [1000, 5000, 9500, 32_768])
			expect(sockets / (windowMs(sockets) / 1000)).toBeLessThanOrEqual(PRESENCE_FRAMES_PER_SEC);
	});
});

describe("the welcome list", () => {
	const users = Array.from({ length: 300 }, (_, i) => user(`u${i}`));

	it("lists everyone up to the limit", ({ expect }) => {
		const list = welcomeList(users.slice(0, 200), 200, user("u5"), 200);
		expect(list).toHaveLength(200);
	});

	it("is a sample that starts with the joiner above it", ({ expect }) => {
		const me = user("u250");
		const list = welcomeList(users, 300, me, 200);
		expect(list).toHaveLength(ONLINE_SAMPLE);
		expect(list[0]).toEqual(me);
		expect(new Set(ids(list)).size).toBe(ONLINE_SAMPLE);
		expect(new Roster(users, 200).welcome(me)).toEqual({ online: list, onlineTotal: 300 });
	});
});

describe("the member list", () => {
	it("pages by user id, stable while others come and go", ({ expect }) => {
		const roster = new Roster(["d", "a", "c", "b", "e"].map(user), 200);
		const first = roster.page({ limit: 2 });
		expect(first).toEqual({ members: [user("a"), user("b")], cursor: "b" });
		// Someone sorting before the cursor joins, and the cursor's own user leaves: no skips, no repeats.
		roster.join(user("aa"));
		roster.leave(user("b"));
		const second = roster.page({ limit: 2, cursor: first.cursor });
		expect(second).toEqual({ members: [user("c"), user("d")], cursor: "d" });
		expect(roster.page({ limit: 2, cursor: second.cursor })).toEqual({ members: [user("e")] });
		expect(roster.page({ limit: 10, cursor: "zzz" })).toEqual({ members: [] });
	});

	it("gives no cursor when the page ends the list exactly", ({ expect }) => {
		const sorted = ["a", "b"].map(user);
		expect(pageSorted(sorted, { limit: 2 })).toEqual({ members: sorted });
		expect(pageSorted([], { limit: 2 })).toEqual({ members: [] });
	});
});
