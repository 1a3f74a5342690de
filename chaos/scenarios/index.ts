/**
 * The scenarios in the order they run (those sharing a server profile are adjacent, so each
 * shared runtime is started once and stopped after its last scenario).
 */
import type { Scenario } from "../lib/types.ts";
import { access } from "./access.ts";
import { crashRestart } from "./crash-restart.ts";
import { directCrash } from "./direct-crash.ts";
import { flood } from "./flood.ts";
import { hostileInput } from "./hostile-input.ts";
import { leaks } from "./leaks.ts";
import { queueChaos } from "./queue-chaos.ts";

export const SCENARIOS: Scenario[] = [crashRestart, directCrash, queueChaos, hostileInput, leaks, access, flood];
