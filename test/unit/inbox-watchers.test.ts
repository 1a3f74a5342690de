/**
 * v1.4: which inboxes a room pushes its changes to, and how often (objects/inbox-watchers.ts):
 * a watch lasts WATCH_MS unless renewed, at most MAX_WATCHERS inboxes watch one room, and each
 * inbox has at most one push in flight, with one more (the latest summary) for the changes
 * that came meanwhile.
 */
import { describe, expect, it } from "vitest";
import { InboxWatchers, MAX_WATCHERS, WATCH_MS } from "../../objects/inbox-watchers.ts";
import type { RoomSummary } from "../../src/inbox-protocol.ts";

/** A room's watchers over a fake clock, with pushes held until released. */
function harness() {
	let now = 1_000_000;
	let lastSeq = 0;
	const pushed: Array<{ user: string; lastSeq: number }> = [];
	const held: Array<() => void> = [];
	const work: Promise<unknown>[] = [];
	const watchers = new InboxWatchers({
		now: () => now,
		summary: (userId): RoomSummary => ({ room: "r", lastSeq, readSeq: userId.length, unread: 0, last: null }),
		push: async (user, summary) => {
			pushed.push({ user, lastSeq: summary.lastSeq });
			await new Promise<void>((resolve) => held.push(resolve));
		},
		waitUntil: (promise) => work.push(promise),
	});
	return {
		watchers,
		pushed,
		tick: (ms: number) => {
			now += ms;
		},
		commit: () => {
			lastSeq++;
			watchers.changed();
		},
		/** Lets every push in flight return, and waits for what follows from it. */
		release: async () => {
			for (const resolve of held.splice(0)) resolve();
			await Promise.all(work.splice(0));
		},
	};
}

describe("a room's inbox watchers", () => {
	it("push each watching inbox the room's summary after a change, and nobody else", async () => {
		const h = harness();
		expect(h.watchers.watch("ann")).toBe(true);
		h.commit();
		await h.release();
		expect(h.pushed).toEqual([{ user: "ann", lastSeq: 1 }]);
	});

	it("keep one push per inbox in flight: changes meanwhile make one more, with the latest summary", async () => {
		const h = harness();
		h.watchers.watch("ann");
		h.commit();
		h.commit();
		h.commit();
		expect(h.pushed).toEqual([{ user: "ann", lastSeq: 1 }]);
		await h.release();
		expect(h.pushed).toEqual([
			{ user: "ann", lastSeq: 1 },
			{ user: "ann", lastSeq: 3 },
		]);
		await h.release();
		expect(h.pushed).toHaveLength(2);
	});

	it("push only the reader's inbox when one user's counts moved (a read)", async () => {
		const h = harness();
		h.watchers.watch("ann");
		h.watchers.watch("bob");
		h.watchers.changed("bob");
		h.watchers.changed("cat");
		await h.release();
		expect(h.pushed.map((p) => p.user)).toEqual(["bob"]);
	});

	it("end a watch WATCH_MS after its last renewal", async () => {
		const h = harness();
		h.watchers.watch("ann");
		h.tick(WATCH_MS - 1);
		h.watchers.watch("ann");
		h.tick(WATCH_MS - 1);
		h.commit();
		await h.release();
		expect(h.pushed).toHaveLength(1);
		h.tick(1);
		h.commit();
		await h.release();
		expect(h.pushed).toHaveLength(1);
		expect(h.watchers.size).toBe(0);
	});

	it("take at most MAX_WATCHERS inboxes, and room again once watches expire", () => {
		const h = harness();
		for (let i = 0; i < MAX_WATCHERS; i++) expect(h.watchers.watch(`u${i}`)).toBe(true);
		expect(h.watchers.watch("late")).toBe(false);
		// A renewal of a watch it has is always taken.
		expect(h.watchers.watch("u0")).toBe(true);
		h.tick(WATCH_MS);
		expect(h.watchers.watch("late")).toBe(true);
		expect(h.watchers.size).toBe(1);
	});

	it("drop a failed push without retrying it (the inbox reads counts when asked)", async () => {
		let calls = 0;
		const work: Promise<unknown>[] = [];
		const watchers = new InboxWatchers({
			now: () => 0,
			summary: () => ({ room: "r", lastSeq: 1, readSeq: 0, unread: 1, last: null }),
			push: async () => {
				calls++;
				throw new Error("inbox unreachable");
			},
			waitUntil: (promise) => work.push(promise),
		});
		watchers.watch("ann");
		watchers.changed();
		await Promise.all(work);
		expect(calls).toBe(1);
		watchers.changed();
		await Promise.all(work);
		expect(calls).toBe(2);
	});
});
