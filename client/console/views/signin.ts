/**
 * @module
 * Signing in and out, and what every API failure leads to: a refused credential goes back to
 * the sign-in form (saying why); anything else goes to the banner.
 */
import { api, ApiError, authMessage, forgetToken, jwtClaims, messageOf, saveToken } from "../api.ts";
import { append, byId, clear, h } from "../../dom.ts";
import { str } from "../format.ts";
import { startPolling, stopPolling } from "../poll.ts";
import { app } from "../state.ts";
import type { Session, Stats } from "../wire.ts";
import { closeActionDialog } from "./actions.ts";
import { hideBanner, setLive, showBanner } from "./banner.ts";
import { openModeration, openRoom, openSaga, openTrace } from "./detail.ts";
import { loadList, renderTabs } from "./list.ts";
import { closeModDialog, openNewModeration } from "./new-moderation.ts";
import { refreshCharts } from "./charts.ts";
import { renderStats } from "./stats.ts";

export function showSignIn(message = ""): void {
	byId("app").hidden = true;
	byId("signout").hidden = true;
	byId("who").hidden = true;
	byId("signin").hidden = false;
	const error = byId("signin-error");
	error.textContent = message;
	error.hidden = message === "";
	setLive("idle", "not connected");
	byId("token").focus();
}

export function signOut(message: string): void {
	forgetToken();
	app.session = null;
	stopPolling();
	closeActionDialog();
	closeModDialog();
	hideBanner();
	showSignIn(message);
}

/** Signs the operator out when `error` is a refused credential; true when it did. */
export function signOutIfRefused(error: unknown): boolean {
	const auth = authMessage(error);
	if (auth === null) return false;
	signOut(auth);
	return true;
}

/** Any API failure: refused credentials go back to sign-in; the rest go to the banner. */
export function handleError(error: unknown, context: string): void {
	if (signOutIfRefused(error)) return;
	const code = error instanceof ApiError && error.status > 0 ? ` (${error.status} ${error.code})` : "";
	showBanner(`${context}: ${messageOf(error)}${code}`, "error", context);
}

export async function signIn(candidate: string): Promise<void> {
	const token = candidate.trim().replace(/^Bearer\s+/i, "");
	if (token === "") return showSignIn("Paste a token first.");
	if (token.split(".").length !== 3) return showSignIn("That does not look like a JWT (three dot-separated parts).");
	const button = byId("signin-submit", HTMLButtonElement);
	button.disabled = true;
	try {
		// Any admin route checks the credential; the stats are needed right away anyway.
		const stats = await api<Stats>("/v1/admin/stats", { authToken: token });
		saveToken(token);
		app.session = "token";
		startApp(stats);
	} catch (error) {
		const refused = authMessage(error, token);
		if (refused !== null) {
			showSignIn(refused);
		} else if (error instanceof ApiError && error.status !== 0) {
			// The credential passed (or the route is missing); open the console and show the problem.
			saveToken(token);
			app.session = "token";
			startApp(null);
			handleError(error, "Stats");
		} else {
			showSignIn(messageOf(error));
		}
	} finally {
		button.disabled = false;
	}
}

/** Shows the console for the saved token and opens what the address asks for. */
export function startApp(stats: Stats | null): void {
	byId("signin").hidden = true;
	byId("app").hidden = false;
	byId("signout").hidden = false;
	byId("token", HTMLTextAreaElement).value = "";
	const claims = jwtClaims(app.token);
	const who = byId("who");
	clear(who);
	hideBanner();
	if (app.session === "access" && accessIdentity !== null) {
		append(who, [
			"signed in as ",
			h("strong", null, accessIdentity.name),
			" ",
			h("span", { class: "mono muted" }, "(Cloudflare Access)"),
		]);
		who.hidden = false;
	} else if (claims !== null) {
		append(who, [
			"signed in as ",
			h("strong", null, str(claims.name)),
			" ",
			h("span", { class: "mono muted" }, `(${str(claims.sub)})`),
		]);
		who.hidden = false;
	}
	if (stats !== null) renderStats(stats);
	void refreshCharts(true);
	renderTabs();
	void loadList();
	const ui = app.ui;
	if (ui.mod !== "") openModeration(ui.mod, ui.task);
	else if (ui.saga !== "") openSaga(ui.saga, ui.task);
	else if (ui.trace !== "") openTrace({ traceId: ui.trace, fields: [] });
	else if (ui.roomPage !== "") openRoom(ui.roomPage, ui.msg);
	else if (ui.newMod) openNewModeration();
	startPolling();
}

/** Who Cloudflare Access signed in, while the console runs on its session. */
let accessIdentity: Session | null = null;

/**
 * Signs in through Cloudflare Access: behind an Access application every request carries its
 * signed assertion, so a call without a token tells whether the server accepts it. Quiet when
 * Access is not in front (the paste form stays); `explicit` says why it did not work.
 */
export async function signInWithAccess(explicit = false): Promise<boolean> {
	try {
		if (!explicit) {
			// Only behind Access: elsewhere the call would be a 401 the operator did not ask for.
			const probe = await fetch("/v1/console/access", { cache: "no-store" });
			const config: unknown = probe.ok ? await probe.json() : null;
			if (typeof config !== "object" || config === null || !("access" in config) || config.access !== true) return false;
		}
		const session = await api<Session>("/v1/admin/session", { authToken: "" });
		if (session.via !== "access") return false;
		if (!session.admin) {
			if (explicit)
				showSignIn(
					`Cloudflare Access signed you in as ${session.name}, but that account is not an admin here (ACCESS_ADMIN_EMAILS / ACCESS_ADMIN_GROUPS).`,
				);
			return false;
		}
		accessIdentity = session;
		forgetToken();
		app.session = "access";
		startApp(null);
		return true;
	} catch (error) {
		if (explicit) {
			const message =
				error instanceof ApiError && error.status === 403
					? "Cloudflare Access signed you in, but that account is not an admin here."
					: `Cloudflare Access sign-in is not available here (${messageOf(error)}). Paste a token instead.`;
			showSignIn(message);
		}
		return false;
	}
}
