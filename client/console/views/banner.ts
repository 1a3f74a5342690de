/**
 * @module
 * The banner under the top bar, and the live badge in it. A banner has a source (the part of
 * the console that raised it), so that part can clear its own error once it works again.
 */
import { byId } from "../../dom.ts";
import { app } from "../state.ts";

/** Errors stay until dismissed or resolved; confirmations fade after a while. */
export function showBanner(text: string, kind: "error" | "ok" = "error", source: string | null = null): void {
	const banner = byId("banner");
	banner.dataset.kind = kind;
	byId("banner-text").textContent = text;
	banner.hidden = false;
	app.banner.source = source;
	if (app.banner.timer !== null) clearTimeout(app.banner.timer);
	app.banner.timer = kind === "ok" ? setTimeout(() => app.banner.source === source && hideBanner(), 15_000) : null;
}

/** Hides the banner; with a source, only when that source raised it. */
export function hideBanner(source?: string): void {
	if (source !== undefined && app.banner.source !== source) return;
	byId("banner").hidden = true;
	app.banner.source = null;
}

export type LiveState = "idle" | "live" | "paused" | "error";

export function setLive(state: LiveState, text: string): void {
	const live = byId("live");
	live.dataset.state = state;
	live.textContent = text;
}
