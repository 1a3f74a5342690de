/**
 * @module
 * Polling: the stats and the open detail every POLL_MS, an open moderation that is not done
 * every MOD_POLL_MS. Nothing is polled while the tab is hidden.
 */
import { api } from "./api.ts";
import { fmtTime } from "./format.ts";
import { app } from "./state.ts";
import type { Stats } from "./wire.ts";
import { hideBanner, setLive } from "./views/banner.ts";
import { refreshDetail } from "./views/detail.ts";
import { handleError } from "./views/signin.ts";
import { refreshCharts } from "./views/charts.ts";
import { renderStats } from "./views/stats.ts";

const POLL_MS = 3000;
export const MOD_POLL_MS = 1500;

async function tick(): Promise<void> {
	const poll = app.poll;
	poll.timer = null;
	if (!poll.on) return;
	if (document.hidden) {
		setLive("paused", "paused (tab hidden)");
		return;
	}
	try {
		const stats = await api<Stats>("/v1/admin/stats");
		if (!poll.on) return;
		renderStats(stats);
		setLive("live", `live · ${fmtTime(Date.now())}`);
		hideBanner("Stats");
	} catch (error) {
		if (!poll.on) return;
		setLive("error", "stats unavailable");
		handleError(error, "Stats");
	}
	if (poll.on) await refreshCharts();
	if (poll.on && app.detail.open !== null) await refreshDetail();
	schedule();
}

/** The next tick after `delay` (0: now), replacing any one already scheduled. */
export function schedule(delay = POLL_MS): void {
	if (!app.poll.on || document.hidden) return;
	if (app.poll.timer !== null) clearTimeout(app.poll.timer);
	app.poll.timer = setTimeout(() => void tick(), delay);
}

export function startPolling(): void {
	app.poll.on = true;
	setLive("live", "live");
	schedule();
}

export function stopPolling(): void {
	app.poll.on = false;
	if (app.poll.timer !== null) clearTimeout(app.poll.timer);
	app.poll.timer = null;
	stopModPoll();
}

export function stopModPoll(): void {
	if (app.poll.modTimer !== null) clearTimeout(app.poll.modTimer);
	app.poll.modTimer = null;
}

/** While the open moderation is not done, it is fetched again soon. */
export function scheduleModPoll(): void {
	stopModPoll();
	const open = app.detail.open;
	if (!app.poll.on || document.hidden || open?.kind !== "moderation" || open.state === "done") return;
	app.poll.modTimer = setTimeout(() => {
		app.poll.modTimer = null;
		if (app.poll.on && app.detail.open === open) void refreshDetail();
	}, MOD_POLL_MS);
}

/** Pauses while the tab is hidden; catches up at once when it shows again. */
export function onVisibilityChange(): void {
	if (!app.poll.on) return;
	if (document.hidden) {
		if (app.poll.timer !== null) clearTimeout(app.poll.timer);
		app.poll.timer = null;
		stopModPoll();
		setLive("paused", "paused (tab hidden)");
	} else {
		schedule(0);
	}
}
