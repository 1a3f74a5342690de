/**
 * The operator console (`/console/`), bundled into public/console/console.js by
 * scripts/build-client.mjs. This entry reads the address, wires the page's controls and opens
 * the sign-in form or, with a token kept in this tab, the console itself.
 *
 * Safety rule for the whole console: every piece of data from the server reaches the page
 * through text nodes, attributes or SVG attributes built by client/console/dom.ts; nothing is
 * ever parsed as HTML.
 */
import { isRoomId } from "../../src/protocol.ts";
import { loadToken } from "./api.ts";
import { byId, fieldValue } from "../dom.ts";
import { onVisibilityChange, schedule } from "./poll.ts";
import { app, isReadOnly, readHash, setReadOnly, writeHash } from "./state.ts";
import { isView } from "./url-state.ts";
import { closeActionDialog, wireActionDialog } from "./views/actions.ts";
import { hideBanner, showBanner } from "./views/banner.ts";
import { refreshDetail } from "./views/detail.ts";
import { loadList, setView } from "./views/list.ts";
import { closeModDialog, closeNewModeration, updateNewButton, wireModerationForm } from "./views/new-moderation.ts";
import { updateAlertTestButton, wireAlertTest } from "./views/alert-test.ts";
import { tickRelativeTimes } from "./views/parts.ts";
import { closeRetryAll, updateRetryAllButton, wireRetryAll } from "./views/retry-all.ts";
import { wireSearch } from "./views/search.ts";
import { showSignIn, signIn, signInWithAccess, signOut, startApp } from "./views/signin.ts";

const READONLY_TITLE = "Hide every write action (retry, skip, cancel, retry all, room policy, test alert, new moderation)";

/** Read-only mode removes every write action from view (not merely styles it away). */
function applyReadOnly(): void {
	const on = isReadOnly();
	document.body.classList.toggle("readonly", on);
	const box = byId("readonly", HTMLInputElement);
	box.checked = on;
	box.disabled = app.forcedReadOnly;
	box.parentElement?.setAttribute("title", app.forcedReadOnly ? "Forced on by ?readonly=1 in the address" : READONLY_TITLE);
	if (on) {
		for (const el of document.querySelectorAll<HTMLElement>(".write-only")) el.hidden = true;
		closeModDialog();
		if (app.ui.newMod) closeNewModeration();
	}
	updateNewButton();
	updateRetryAllButton();
	updateAlertTestButton();
	if (on) closeRetryAll();
}

function wireSignIn(): void {
	const token = byId("token", HTMLTextAreaElement);
	byId("signin-form").addEventListener("submit", (event) => {
		event.preventDefault();
		void signIn(token.value);
	});
	token.addEventListener("keydown", (event) => {
		if (event.key === "Enter" && !event.shiftKey) {
			event.preventDefault();
			void signIn(token.value);
		}
	});
	byId("signout").addEventListener("click", () =>
		signOut(
			app.session === "access"
				? "Signed out of the console (Cloudflare Access keeps its own session: /cdn-cgi/access/logout ends it)."
				: "Signed out.",
		),
	);
	byId("signin-access").addEventListener("click", () => void signInWithAccess(true));
	byId("banner-close").addEventListener("click", () => hideBanner());
	byId("readonly", HTMLInputElement).addEventListener("change", (event) => {
		if (app.forcedReadOnly) return applyReadOnly();
		setReadOnly(event.target instanceof HTMLInputElement && event.target.checked);
		applyReadOnly();
		if (isReadOnly()) closeActionDialog();
		// The steps' action column comes and goes with the mode.
		app.detail.drawn = "";
		if (app.detail.open !== null) void refreshDetail();
	});
}

function wireList(): void {
	for (const tab of document.querySelectorAll(".tabs [data-view]")) {
		tab.addEventListener("click", () => {
			const view = tab.getAttribute("data-view");
			setView(isView(view) ? view : "sagas");
		});
	}
	const filters = byId("filters", HTMLFormElement);
	filters.addEventListener("submit", (event) => {
		event.preventDefault();
		const room = fieldValue("filter-room").trim();
		if (room !== "" && !isRoomId(room)) {
			showBanner(`"${room}" is not a room id (lowercase letters, digits, ".", "_", "-"; up to 64).`, "error", "Filter");
			return;
		}
		hideBanner("Filter");
		app.ui.state = fieldValue("filter-state");
		app.ui.room = room;
		app.ui.kind = app.ui.view === "tasks" ? fieldValue("filter-kind") : "";
		writeHash();
		void loadList();
	});
	byId("filter-state").addEventListener("change", () => filters.requestSubmit());
	byId("filter-kind").addEventListener("change", () => filters.requestSubmit());
	byId("filter-clear").addEventListener("click", () => setView(app.ui.view));
	byId("list-refresh").addEventListener("click", () => void loadList());
	byId("list-more").addEventListener("click", () => void loadList(true));
}

function init(): void {
	app.forcedReadOnly = new URLSearchParams(location.search).get("readonly") === "1";
	loadToken();
	readHash();
	applyReadOnly();
	wireSignIn();
	wireList();
	wireActionDialog();
	wireModerationForm();
	wireSearch();
	wireRetryAll();
	wireAlertTest();
	document.addEventListener("visibilitychange", onVisibilityChange);
	// Relative times ("12 s ago") stay current without redrawing the views.
	setInterval(() => tickRelativeTimes(), 5000);
	if (app.token !== "") {
		// Reopen with the stored token; the first call tells whether it still works.
		app.session = "token";
		startApp(null);
		schedule(0);
	} else {
		// Behind Cloudflare Access the console signs in by itself; otherwise the paste form.
		showSignIn();
		void signInWithAccess(false);
	}
}

init();
