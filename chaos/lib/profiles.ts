/**
 * @module
 * The server configurations scenarios share, so the quick slice starts as few runtimes as it can.
 */
import type { ServerProfile } from "./types.ts";

/** Fault injection on, fast retries, no rate limit (every hostile frame reaches the parser). */
export const FAULTY: ServerProfile = { name: "faulty", vars: { FAULTS: "on", OUTBOX_BASE_DELAY_MS: "100", RATE_LIMIT_PER_SEC: "0" } };

/** As deployed: guests off and the default rate limit (10 frames/s per socket, burst 20). */
export const GUARDED: ServerProfile = { name: "guarded", vars: { FAULTS: "on", ALLOW_GUESTS: "false", RATE_LIMIT_PER_SEC: "10" } };
