/**
 * The console's pure logic (client/console/): text for times, durations and ids; the view kept
 * in the address; the moderation form's selector; what a task id says; and the words the
 * console filters by, which come from the server's own rules.
 */
import { describe, expect, it } from "vitest";
import { ageLevel, clip, fmtAgo, fmtDuration, fmtLe, fmtQuantile, fmtTime, shortId, str } from "../../client/console/format.ts";
import { buildSelector, fromLocalInput, selectorParts, selectorText, toLocalInput } from "../../client/console/selector.ts";
import { ownerId, parseTaskId } from "../../client/console/task-ids.ts";
import { emptyUi, formatHash, parseHash } from "../../client/console/url-state.ts";
import {
	AUDIT_ACTIONS,
	kindClass,
	REASON_MAX,
	reasonRefusal,
	SAGA_STATES,
	stateClass,
	TASK_KINDS,
	TASK_STATES,
} from "../../client/console/vocab.ts";
import { inboxRunId, isModerationId, newModerationId, newSagaId, originOfTaskId, taskIdFor } from "../../src/saga/ids.ts";
import { MANUAL_ACTIONS } from "../../src/saga/policy.ts";
import { ALL_SAGA_STATES, ALL_TASK_STATES } from "../../src/saga/state-machine.ts";

describe("console formatting", () => {
	it("shows missing values as a dash and objects as JSON", () => {
		expect([str(null), str(undefined), str(""), str(0), str("x"), str({ a: 1 })]).toEqual(["—", "—", "—", "0", "x", '{"a":1}']);
	});

	it("writes a duration at a precision that suits its size", () => {
		expect(
			[null, 850, 2500, 12_345, 245_000, 3 * 3_600_000 + 120_000, 2 * 86_400_000 + 3_600_000, -245_000].map((ms) => fmtDuration(ms)),
		).toEqual(["—", "850 ms", "2.50 s", "12.3 s", "4m 5s", "3h 2m", "2d 1h", "-4m 5s"]);
		expect(fmtAgo(1000, 3500)).toBe("2.50 s ago");
		expect(fmtAgo(null)).toBe("");
	});

	it("shows the time alone today and with the date on another day", () => {
		const at = new Date(2026, 0, 2, 3, 4, 5).getTime();
		expect(fmtTime(at, new Date(2026, 0, 2, 23, 0, 0))).toBe("03:04:05");
		expect(fmtTime(at, new Date(2026, 0, 3, 1, 0, 0))).toBe("2026-01-02 03:04:05");
		expect(fmtTime(null)).toBe("—");
	});

	it("labels latency buckets and quantiles as the server reports them", () => {
		expect([50, 1000, 2500, 60_000, 300_000, null].map((le) => fmtLe(le))).toEqual(["50ms", "1s", "2.5s", "1m", "5m", "+Inf"]);
		expect(fmtLe(250, true)).toBe("250");
		expect([fmtQuantile(250, 3), fmtQuantile(null, 3), fmtQuantile(null, 0)]).toEqual(["≤ 250 ms", "> last bound", "—"]);
		expect([null, 1000, 30_001, 300_001].map(ageLevel)).toEqual(["ok", "ok", "warn", "bad"]);
	});

	it("shortens long ids to their ends and clips by code point", () => {
		expect(shortId("short")).toBe("short");
		expect(shortId("abcdefghijkl-middle-part-abcdefghijkl")).toBe("abcdefghijkl…abcdefghijkl");
		expect(shortId(null)).toBe("—");
		expect(clip("😀😀😀😀", 3)).toBe("😀😀…");
		expect(clip("abc", 3)).toBe("abc");
	});
});

describe("the console's address", () => {
	it("reads back what it writes, leaving empty fields out", () => {
		const ui = {
			...emptyUi(),
			view: "tasks" as const,
			state: "failed",
			room: "lobby",
			kind: "retract",
			saga: "lobby~0123456789ab",
			task: "t 1&2",
		};
		const hash = formatHash(ui);
		expect(hash).toBe("view=tasks&state=failed&room=lobby&kind=retract&saga=lobby%7E0123456789ab&task=t+1%262");
		expect(parseHash(`#${hash}`)).toEqual(ui);
	});

	it("opens the sagas list for an unknown or missing view, and the form only for new=1", () => {
		expect(parseHash("").view).toBe("sagas");
		expect(parseHash("#view=nope").view).toBe("sagas");
		expect(parseHash("#view=moderations&new=1")).toEqual({ ...emptyUi(), view: "moderations", newMod: true });
		expect(parseHash("#new=yes").newMod).toBe(false);
		expect(formatHash({ ...emptyUi(), newMod: true })).toBe("view=sagas&new=1");
	});

	it("opens a moderation from its link, and from a link made before the rename", () => {
		const ui = { ...emptyUi(), view: "moderations" as const, mod: "mod@0123456789ab" };
		expect(formatHash(ui)).toBe("view=moderations&mod=mod%400123456789ab");
		expect(parseHash(`#${formatHash(ui)}`)).toEqual(ui);
		expect(parseHash("#view=compensations&cmp=cmp%400123456789ab")).toEqual({ ...ui, mod: "cmp@0123456789ab" });
		expect(parseHash("#view=compensations&new=1")).toEqual({ ...emptyUi(), view: "moderations", newMod: true });
	});
});

describe("the moderation form's selector", () => {
	const blank = { author: "", room: "", from: "", to: "", msgIds: "" };

	it("trims fields, splits and de-duplicates message ids, and leaves empty fields out", () => {
		const built = buildSelector({ ...blank, author: "  spam-1 ", room: "lobby", msgIds: "a, b\nc  a,," });
		expect(built).toEqual({
			ok: true,
			selector: { author: "spam-1", room: "lobby", msgIds: ["a", "b", "c"] },
			key: '{"author":"spam-1","room":"lobby","msgIds":["a","b","c"]}',
		});
		expect(buildSelector(blank)).toEqual({ ok: true, selector: {}, key: "{}" });
	});

	it("reads local times, the end of a range covering its whole second", () => {
		const from = new Date(2026, 0, 2, 10, 15, 30).getTime();
		expect(fromLocalInput("2026-01-02T10:15:30", false)).toBe(from);
		expect(fromLocalInput("2026-01-02T10:15:30", true)).toBe(from + 999);
		expect(fromLocalInput("2026-01-02T10:15:30.250", true)).toBe(from + 250);
		expect(fromLocalInput("", true)).toBeUndefined();
		expect(fromLocalInput("not a date", false)).toBeNull();
		expect(toLocalInput(from)).toBe("2026-01-02T10:15:30");
		expect(buildSelector({ ...blank, author: "a", to: "soon" })).toEqual({
			ok: false,
			error: "The time range is not a valid date and time.",
		});
	});

	it("describes a selector in a fixed order", () => {
		const from = new Date(2026, 0, 2, 10, 0, 0).getTime();
		expect(selectorParts({ msgIds: ["m1", "m2"], room: "lobby", author: "ann", from })).toEqual([
			["author", "ann"],
			["room", "lobby"],
			["time", "2026-01-02 10:00:00 → now and later"],
			["message ids", "m1, m2"],
		]);
		expect(selectorText({ to: from })).toBe("time: any time → 2026-01-02 10:00:00");
		expect(selectorText({})).toBe("—");
	});
});

describe("what a task id says", () => {
	it("reads the saga, kind and target room of the ids the server builds", () => {
		const sagaId = newSagaId("team.alpha");
		const modId = newModerationId();
		expect(modId).toMatch(/^mod@[0-9a-f]{12}$/);
		expect(parseTaskId(taskIdFor(sagaId, "deliver", "lobby.2"))).toEqual({ sagaId, kind: "deliver", room: "lobby.2" });
		expect(parseTaskId(taskIdFor(sagaId, "retract", "r"))).toEqual({ sagaId, kind: "retract", room: "r" });
		// An edit's task (v1.3) names the edit's seq too, one task per edit and target room.
		expect(parseTaskId(taskIdFor(sagaId, "edit", "lobby.2", 17))).toEqual({ sagaId, kind: "edit", room: "lobby.2", editSeq: 17 });
		expect(parseTaskId(`${sagaId}.e123456789012345.r`)).toEqual({ sagaId, kind: "edit", room: "r", editSeq: 123456789012345 });
		// A message's inbox run (v1.4) and its tasks to users' inboxes, whose ids may hold dots.
		const runId = inboxRunId("team.alpha", 42);
		expect(runId).toBe("team.alpha~n000000000000042");
		expect(parseTaskId(taskIdFor(runId, "mention", "@ann.lee", 42))).toEqual({
			sagaId: runId,
			kind: "mention",
			room: "@ann.lee",
			editSeq: 42,
		});
		expect(parseTaskId(taskIdFor(runId, "unmention", "@bob", 57))).toEqual({
			sagaId: runId,
			kind: "unmention",
			room: "@bob",
			editSeq: 57,
		});
		expect(originOfTaskId(taskIdFor(runId, "mention", "@ann", 42))).toEqual({ kind: "room", id: "team.alpha" });
		expect(parseTaskId(`${runId}.n42.@`)).toBeUndefined();
		expect(parseTaskId(`${runId}.n.@ann`)).toBeUndefined();
		expect(parseTaskId(taskIdFor(modId, "moderate", "lobby"))).toEqual({ sagaId: modId, kind: "moderate", room: "lobby" });
		// Moderations made before the rename keep their `cmp@…` ids, which still parse.
		expect(parseTaskId("cmp@0123456789ab.m.lobby")).toEqual({ sagaId: "cmp@0123456789ab", kind: "moderate", room: "lobby" });
		expect([isModerationId(modId), isModerationId("cmp@0123456789ab"), isModerationId("xyz@0123456789ab")]).toEqual([
			true,
			true,
			false,
		]);
		expect([originOfTaskId(taskIdFor(modId, "moderate", "lobby")), originOfTaskId(taskIdFor(sagaId, "deliver", "x"))]).toEqual([
			{ kind: "moderation", id: modId },
			{ kind: "room", id: "team.alpha" },
		]);
	});

	it("refuses what is not a task id", () => {
		for (const id of [
			"",
			"lobby",
			"lobby~0123456789ab",
			"lobby~0123456789ab.x.room",
			"lobby~0123456789ab.d.Bad Room",
			// An edit's task without its edit's seq, with a seq that is not one, or without a room.
			"lobby~0123456789ab.e.room",
			"lobby~0123456789ab.e0.room",
			"lobby~0123456789ab.e07.room",
			"lobby~0123456789ab.e1x.room",
			"lobby~0123456789ab.e1",
			"lobby~0123456789ab.e12.",
			"lobby~0123456789ab.e12.Bad Room",
			"lobby~0123456789ab.d12.room",
			"cmp@0123456789ab.d.room",
			"cmp@0123456789ab",
			"mod@0123456789ab.d.room",
			"mod@0123456789ab.m.Bad Room",
			"mod@0123456789ab",
		]) {
			expect([id, parseTaskId(id)]).toEqual([id, undefined]);
		}
	});

	it("opens a record's own saga, else the one its task id names, else a moderation named as the task", () => {
		const sagaId = newSagaId("lobby");
		const modId = newModerationId();
		expect(ownerId("other~0123456789ab", taskIdFor(sagaId, "deliver", "x"))).toBe("other~0123456789ab");
		expect(ownerId(undefined, taskIdFor(sagaId, "deliver", "x"))).toBe(sagaId);
		expect(ownerId(undefined, modId)).toBe(modId);
		expect(ownerId(undefined, "cmp@0123456789ab")).toBe("cmp@0123456789ab");
		expect(ownerId(undefined, "nonsense")).toBeUndefined();
	});
});

describe("the console's words", () => {
	it("filters by the server's task and saga states, kinds and actions", () => {
		expect(TASK_STATES).toEqual(ALL_TASK_STATES);
		expect(SAGA_STATES).toEqual(ALL_SAGA_STATES);
		expect([...TASK_KINDS].sort()).toEqual(["deliver", "edit", "mention", "moderate", "retract", "unmention"]);
		expect(AUDIT_ACTIONS).toEqual([...MANUAL_ACTIONS, "moderate", "policy"]);
	});

	it("draws unknown states and kinds neutrally", () => {
		expect([stateClass("failed"), stateClass("done"), stateClass("attention"), stateClass("weird"), stateClass(undefined)]).toEqual([
			"failed",
			"done",
			"attention",
			"unknown",
			"unknown",
		]);
		expect([kindClass("moderate"), kindClass("other")]).toEqual(["kind kind-moderate", "kind kind-deliver"]);
	});

	it("asks a reason of 1 to 500 code points, as the server does", () => {
		expect(reasonRefusal("   ")).toMatch(/required/);
		expect(reasonRefusal("😀".repeat(REASON_MAX))).toBeUndefined();
		expect(reasonRefusal(` ${"😀".repeat(REASON_MAX + 1)} `)).toBe(
			`The reason is ${REASON_MAX + 1} characters; the limit is ${REASON_MAX}.`,
		);
	});
});
