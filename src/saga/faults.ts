/**
 * @module
 * Fault injection for rehearsals (`POST /v1/admin/faults`, only with FAULTS=on): the setting
 * and the pure parts (parsing it, and deciding whether one task attempt fails).
 */
import { fail, ok, type Result } from "../errors.ts";
import { isRoomId } from "../protocol.ts";
import type { TaskKind } from "./types.ts";

export interface FaultSettings {
	deliverFailRate: number;
	retractFailRate: number;
	/** Rooms the faults apply to; `null` means every room. */
	rooms: string[] | null;
}

export const NO_FAULTS: FaultSettings = { deliverFailRate: 0, retractFailRate: 0, rooms: null };

function rate(value: unknown, name: string): Result<number> {
	if (value === undefined) return ok(0);
	if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1)
		return fail("bad_request", `\`${name}\` must be a number from 0 to 1`);
	return ok(value);
}

/** Each call replaces the whole setting: absent rates are 0, absent rooms means every room. */
export function parseFaults(input: unknown): Result<FaultSettings> {
	if (typeof input !== "object" || input === null || Array.isArray(input)) return fail("bad_request", "the body must be a JSON object");
	const body = input as Record<string, unknown>;
	const deliver = rate(body.deliverFailRate, "deliverFailRate");
	if (!deliver.ok) return deliver;
	const retract = rate(body.retractFailRate, "retractFailRate");
	if (!retract.ok) return retract;
	let rooms: string[] | null = null;
	if (body.rooms !== undefined) {
		if (!Array.isArray(body.rooms) || !body.rooms.every(isRoomId)) return fail("bad_request", "`rooms` must be an array of room ids");
		rooms = [...new Set(body.rooms as string[])];
	}
	return ok({ deliverFailRate: deliver.value, retractFailRate: retract.value, rooms });
}

/** Whether this attempt at `kind` in `room` is made to fail. */
export function shouldInjectFault(faults: FaultSettings, kind: TaskKind, room: string, random: () => number = Math.random): boolean {
	if (faults.rooms !== null && !faults.rooms.includes(room)) return false;
	// An edit carries text to a copy as a delivery does, and fails at its rate; so do (v1.4) a
	// mention to an inbox, and an unmention at the retract rate.
	const delivers = kind === "deliver" || kind === "edit" || kind === "mention";
	const chance = delivers ? faults.deliverFailRate : faults.retractFailRate;
	return chance > 0 && random() < chance;
}
