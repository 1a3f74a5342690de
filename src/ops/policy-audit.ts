/**
 * @module
 * Room policy changes in the audit log. An audit entry names a task; a policy change names its
 * room as `policy@<room>` in that field, so the entry lists, filters and scopes like the others
 * (a scoped admin sees the changes of rooms in its claim) without a column of its own.
 */
import { isRoomId, type RoomPolicy } from "../protocol.ts";

export const POLICY_ACTION = "policy";

export function policyTarget(room: string): string {
	return `policy@${room}`;
}

/** The room of a `policy@<room>` target, or undefined for anything else. */
export function roomOfPolicyTarget(target: string): string | undefined {
	if (!target.startsWith("policy@")) return undefined;
	const room = target.slice("policy@".length);
	return isRoomId(room) ? room : undefined;
}

/** A policy as one short line for the audit log's from → to. */
export function policySummary(policy: RoomPolicy): string {
	const parts = [policy.readOnly ? "read-only" : "writable"];
	if (policy.banGuests === true) parts.push("guests banned");
	parts.push(policy.banned.length === 0 ? "no bans" : `banned: ${policy.banned.join(", ")}`);
	const text = parts.join("; ");
	return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}
