import { describe, expect, it } from "vitest";
import { Outbox } from "../../client/outbox.ts";

interface Frame {
	id: string;
	text: string;
}

const frame = (id: string): Frame => ({ id, text: `text ${id}` });
const ids = (frames: Frame[]): string[] => frames.map((f) => f.id);

describe("outbox", () => {
	it("hands out queued frames once, oldest first", () => {
		const outbox = new Outbox<Frame>();
		outbox.add(frame("a"));
		outbox.add(frame("b"));
		expect(ids(outbox.takeQueued(0))).toEqual(["a", "b"]);
		expect(outbox.takeQueued(0)).toEqual([]);
		outbox.add(frame("c"));
		expect(ids(outbox.takeQueued(0))).toEqual(["c"]);
		expect(outbox.inFlight).toBe(3);
	});

	it("refuses a second frame with an id already waiting", () => {
		const outbox = new Outbox<Frame>();
		expect(outbox.add(frame("a"))).toBe(true);
		expect(outbox.add({ id: "a", text: "other" })).toBe(false);
		expect(outbox.size).toBe(1);
		expect(outbox.get("a")?.frame.text).toBe("text a");
	});

	it("resends every unacked frame, with the same id and in the original order, after a disconnect", () => {
		const outbox = new Outbox<Frame>();
		for (const id of ["a", "b", "c"]) outbox.add(frame(id));
		outbox.takeQueued(0);
		expect(outbox.settle("b")?.id).toBe("b");
		outbox.requeueAll();
		expect(ids(outbox.takeQueued(0))).toEqual(["a", "c"]);
		expect(outbox.get("a")?.writes).toBe(2);
	});

	it("forgets a frame once settled, so a late duplicate ack is ignored", () => {
		const outbox = new Outbox<Frame>();
		outbox.add(frame("a"));
		outbox.takeQueued(0);
		expect(outbox.settle("a")).toBeDefined();
		expect(outbox.settle("a")).toBeUndefined();
		expect(outbox.size).toBe(0);
	});

	it("holds writes while paused and never shortens a pause", () => {
		const outbox = new Outbox<Frame>();
		outbox.add(frame("a"));
		outbox.pause(1000);
		outbox.pause(500);
		expect(outbox.pausedUntil).toBe(1000);
		expect(outbox.takeQueued(999)).toEqual([]);
		expect(ids(outbox.takeQueued(1000))).toEqual(["a"]);
	});

	it("puts a rate-limited frame back ahead of later ones", () => {
		const outbox = new Outbox<Frame>();
		for (const id of ["a", "b", "c"]) outbox.add(frame(id));
		outbox.takeQueued(0, 2);
		outbox.requeue("a");
		expect(ids(outbox.takeQueued(0))).toEqual(["a", "c"]);
		expect(outbox.requeue("missing")).toBe(false);
	});

	it("keeps at most maxInFlight frames unacked", () => {
		const outbox = new Outbox<Frame>();
		for (const id of ["a", "b", "c", "d", "e"]) outbox.add(frame(id));
		expect(ids(outbox.takeQueued(0, 2))).toEqual(["a", "b"]);
		expect(outbox.takeQueued(0, 2)).toEqual([]);
		outbox.settle("a");
		expect(ids(outbox.takeQueued(0, 2))).toEqual(["c"]);
	});

	it("drains everything on close", () => {
		const outbox = new Outbox<Frame>();
		outbox.add(frame("a"));
		outbox.add(frame("b"));
		expect(ids(outbox.drain())).toEqual(["a", "b"]);
		expect(outbox.size).toBe(0);
	});
});

describe("outbox order", () => {
	it("names the unacked frame before each written one in `after`", () => {
		const outbox = new Outbox<Frame>();
		for (const id of ["a", "b", "c"]) outbox.add(frame(id));
		expect(outbox.takeQueued(0).map((f) => [f.id, f.after])).toEqual([
			["a", undefined],
			["b", "a"],
			["c", "b"],
		]);
		outbox.settle("a");
		outbox.requeue("c");
		expect(outbox.takeQueued(0).map((f) => [f.id, f.after])).toEqual([["c", "b"]]);
	});

	it("puts restored frames ahead of those queued since, skipping ids it already holds", () => {
		const outbox = new Outbox<Frame>();
		outbox.add(frame("new"));
		outbox.add(frame("b"));
		expect(ids(outbox.restore([frame("a"), frame("b")]))).toEqual(["a"]);
		expect(ids(outbox.takeQueued(0))).toEqual(["a", "new", "b"]);
	});

	it("hands out no more than the pacing budget, and counts what could go", () => {
		const outbox = new Outbox<Frame>();
		for (const id of ["a", "b", "c", "d"]) outbox.add(frame(id));
		expect(outbox.writable(3)).toBe(3);
		expect(ids(outbox.takeQueued(0, 3, 2))).toEqual(["a", "b"]);
		expect(outbox.writable(3)).toBe(1);
	});
});
