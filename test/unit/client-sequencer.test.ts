import { describe, expect, it } from "vitest";
import { Sequencer } from "../../client/sequencer.ts";

interface Ev {
	seq: number;
}
const ev = (seq: number): Ev => ({ seq });
const seqs = (events: Ev[]): number[] => events.map((e) => e.seq);

describe("sequencer", () => {
	it("delivers consecutive events and drops duplicates", () => {
		const s = new Sequencer<Ev>();
		expect(seqs(s.offer(ev(1)))).toEqual([1]);
		expect(seqs(s.offer(ev(2)))).toEqual([2]);
		expect(s.offer(ev(2))).toEqual([]);
		expect(s.offer(ev(1))).toEqual([]);
		expect(s.lastSeq).toBe(2);
		expect(s.gap()).toBeUndefined();
	});

	it("holds early events, reports the gap, and releases in order once it is filled", () => {
		const s = new Sequencer<Ev>(3);
		expect(s.offer(ev(6))).toEqual([]);
		expect(s.offer(ev(7))).toEqual([]);
		expect(s.gap()).toEqual({ after: 3, through: 5 });
		expect(seqs(s.offerAll([ev(5), ev(4)]))).toEqual([4, 5, 6, 7]);
		expect(s.heldCount).toBe(0);
		expect(s.gap()).toBeUndefined();
	});

	it("reports events known to exist (from welcome or synced) as missing", () => {
		const s = new Sequencer<Ev>(10);
		s.noteHead(12);
		expect(s.gap()).toEqual({ after: 10, through: 12 });
		s.offerAll([ev(11), ev(12)]);
		expect(s.gap()).toBeUndefined();
		s.noteHead(11);
		expect(s.head).toBe(12);
	});

	it("survives a page that overlaps the live stream", () => {
		const s = new Sequencer<Ev>(0);
		const delivered: number[] = [];
		delivered.push(...seqs(s.offer(ev(1))));
		delivered.push(...seqs(s.offer(ev(4))));
		delivered.push(...seqs(s.offerAll([ev(1), ev(2), ev(3), ev(4), ev(5)])));
		delivered.push(...seqs(s.offer(ev(5))));
		delivered.push(...seqs(s.offer(ev(6))));
		expect(delivered).toEqual([1, 2, 3, 4, 5, 6]);
	});

	it("rebases to skip old history on a fresh join, and after a server reset", () => {
		const s = new Sequencer<Ev>(0);
		s.rebase(150);
		expect(s.offer(ev(140))).toEqual([]);
		expect(seqs(s.offer(ev(151)))).toEqual([151]);
		s.noteHead(200);
		s.rebase(20);
		expect(s.gap()).toBeUndefined();
		expect(seqs(s.offer(ev(21)))).toEqual([21]);
	});

	it("ignores events without an integer seq", () => {
		const s = new Sequencer<Ev>(0);
		expect(s.offer({ seq: Number.NaN })).toEqual([]);
		expect(s.offer({ seq: 1.5 })).toEqual([]);
		expect(s.lastSeq).toBe(0);
	});
});
