/**
 * Deployment-wide switches that every Worker isolate must see alike. Today: the fault
 * injection setting for rehearsals (only reachable when FAULTS is "on"). One object by
 * design: it is read once per queue batch, never on the chat path.
 */
import { DurableObject } from "cloudflare:workers";
import type { FaultSettings } from "../src/saga/faults.ts";
import { NO_FAULTS } from "../src/saga/faults.ts";

export class Control extends DurableObject<Env> {
	async getFaults(): Promise<FaultSettings> {
		return (await this.ctx.storage.get<FaultSettings>("faults")) ?? NO_FAULTS;
	}

	async setFaults(faults: FaultSettings): Promise<FaultSettings> {
		await this.ctx.storage.put("faults", faults);
		return faults;
	}
}
