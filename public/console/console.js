/**
 * Parley operator console. Plain ES module, no build step, no framework.
 *
 * Safety rule for this file: every piece of data from the server reaches the page through
 * `textContent`, `setAttribute` or SVG attributes built here; nothing is ever parsed as HTML.
 */

const TOKEN_KEY = "parley.console.token";
const READONLY_KEY = "parley.console.readonly";
const POLL_MS = 3000;
const PAGE_SIZE = 50;
const LOG_LIMIT = 100;
const REASON_MAX = 500;
const ROOM_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** How often an open compensation is polled until it is done. */
const CMP_POLL_MS = 1500;
/** The dry run is a preview: the server asks a reason of every request, so it gets this one. */
const CMP_ID_RE = /^cmp@[0-9a-f]{12}$/;

const TASK_STATES = ["pending", "processing", "succeeded", "failed", "skipped", "cancelled", "archived"];
const SAGA_STATES = ["running", "compensating", "succeeded", "compensated", "failed"];
const ALERT_STATUSES = ["pending", "sent", "failed", "unsent"];
const AUDIT_ACTIONS = ["retry", "skip", "cancel", "compensate"];
const CMP_STATES = ["running", "done"];
const KNOWN_STATES = new Set([...TASK_STATES, ...SAGA_STATES, ...ALERT_STATUSES, "done", "attention", "unknown"]);
const TASK_KINDS = new Set(["deliver", "retract", "moderate"]);
/** Which operator actions the task state machine allows from each state (the server decides; this only hides nonsense). */
const ACTIONS_FROM = {
	failed: ["retry", "skip", "cancel"],
	pending: ["skip", "cancel"],
	processing: ["skip", "cancel"],
};
const ACTION_LABEL = { retry: "Retry", skip: "Skip", cancel: "Cancel" };
const ACTION_HELP = {
	retry: "Puts the task back to pending so the outbox runs it again.",
	skip: "Marks the task skipped: the saga treats it as done without running it.",
	cancel: "Marks the task cancelled: it will not run again.",
};

// ---------------------------------------------------------------------------------------------
// DOM helpers (text only)

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

function append(parent, children) {
	for (const child of children) {
		if (child === null || child === undefined || child === false) continue;
		if (Array.isArray(child)) append(parent, child);
		else if (child instanceof Node) parent.appendChild(child);
		else parent.appendChild(document.createTextNode(String(child)));
	}
}

/** Creates an HTML element. Strings among `children` become text nodes. */
function h(tag, props, ...children) {
	const el = document.createElement(tag);
	setProps(el, props);
	append(el, children);
	return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
/** Creates an SVG element; same rules as `h`. */
function s(tag, props, ...children) {
	const el = document.createElementNS(SVG_NS, tag);
	setProps(el, props);
	append(el, children);
	return el;
}

function setProps(el, props) {
	if (!props) return;
	for (const [key, value] of Object.entries(props)) {
		if (value === null || value === undefined || value === false) continue;
		if (key === "class") el.setAttribute("class", String(value));
		else if (key === "dataset") for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
		else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
		else el.setAttribute(key, value === true ? "" : String(value));
	}
}

function clear(el) {
	while (el.firstChild) el.removeChild(el.firstChild);
}

/** A state's CSS class suffix; unknown states get a neutral colour. */
function stateClass(state) {
	return KNOWN_STATES.has(state) ? state : "unknown";
}

function badge(state) {
	const text = typeof state === "string" && state !== "" ? state : "unknown";
	return h("span", { class: `badge st-${stateClass(text)}`, dataset: { state: text } }, text);
}

// ---------------------------------------------------------------------------------------------
// Formatting (tolerant of missing fields)

const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const str = (v) => (v === null || v === undefined || v === "" ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
const pad = (n) => String(n).padStart(2, "0");

function fmtTime(ms) {
	if (!isNum(ms)) return "—";
	const d = new Date(ms);
	const now = new Date();
	const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
	if (d.toDateString() === now.toDateString()) return time;
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

function timeCell(ms) {
	return h("time", { datetime: isNum(ms) ? new Date(ms).toISOString() : null, title: isNum(ms) ? new Date(ms).toISOString() : null }, fmtTime(ms));
}

function fmtDuration(ms) {
	if (!isNum(ms)) return "—";
	const abs = Math.abs(ms);
	if (abs < 1000) return `${Math.round(ms)} ms`;
	if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 2 : 1)} s`;
	const sec = Math.floor(abs / 1000);
	const sign = ms < 0 ? "-" : "";
	if (sec < 3600) return `${sign}${Math.floor(sec / 60)}m ${sec % 60}s`;
	if (sec < 86_400) return `${sign}${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}m`;
	return `${sign}${Math.floor(sec / 86_400)}d ${Math.floor((sec % 86_400) / 3600)}h`;
}

function fmtAgo(ms) {
	return isNum(ms) ? `${fmtDuration(Date.now() - ms)} ago` : "";
}

/** Bucket upper bound as a short label: 50 → "50ms" (or "50" when `bare`), 2000 → "2s", null → "+Inf". */
function fmtLe(le, bare = false) {
	if (!isNum(le)) return "+Inf";
	if (le < 1000) return bare ? String(le) : `${le}ms`;
	if (le < 60_000) return `${+(le / 1000).toFixed(1)}s`;
	return `${+(le / 60_000).toFixed(1)}m`;
}

function shortId(id) {
	if (typeof id !== "string") return "—";
	return id.length > 28 ? `${id.slice(0, 12)}…${id.slice(-12)}` : id;
}

/** The CSS class of a task kind (unknown kinds look like deliveries). */
function kindClass(kind) {
	return `kind kind-${TASK_KINDS.has(kind) ? kind : "deliver"}`;
}

/** A task id as "retract → room" (its kind and target), with the full id on hover. */
function taskLabel(taskId) {
	const match = typeof taskId === "string" ? /\.([drm])\.([a-z0-9][a-z0-9._-]{0,63})$/.exec(taskId) : null;
	if (!match) return idCell(taskId);
	const kind = { d: "deliver", r: "retract", m: "moderate" }[match[1]] ?? "deliver";
	return h("span", { class: "task-label", title: taskId }, h("span", { class: kindClass(kind) }, kind), " → ", h("span", { class: "mono" }, match[2]));
}

function idCell(id) {
	return h("span", { class: "mono", title: typeof id === "string" ? id : null }, shortId(id));
}

/** Counts Unicode code points, as the server does. */
const codePoints = (text) => [...text].length;

/** Decodes a JWT payload for display only (the server verifies it). */
function jwtClaims(token) {
	try {
		const part = token.split(".")[1];
		if (!part) return null;
		const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
		const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
		const claims = JSON.parse(new TextDecoder().decode(bytes));
		return claims && typeof claims === "object" ? claims : null;
	} catch {
		return null;
	}
}

/**
 * The saga a task belongs to, from the task id (`<sagaId>.<d|r>.<room>`, an implementation
 * detail of the server). Only a fallback for audit entries, which carry no saga id.
 */
function sagaIdOfTask(taskId) {
	if (typeof taskId !== "string") return null;
	if (CMP_ID_RE.test(taskId)) return taskId;
	const match = /^([a-z0-9][a-z0-9._-]*~[^.]+|cmp@[0-9a-f]{12})\.[drm]\./.exec(taskId);
	return match ? match[1] : null;
}

/** Opens what a task or audit entry belongs to: an operator compensation (`cmp@…`) or a saga. */
function openOwner(sagaId, taskId) {
	if (typeof sagaId === "string" && CMP_ID_RE.test(sagaId)) openCompensation(sagaId, taskId);
	else openSaga(sagaId, taskId);
}

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

let token = sessionStorage.getItem(TOKEN_KEY) ?? "";

async function api(path, { method = "GET", body, authToken = token } = {}) {
	const headers = { Authorization: `Bearer ${authToken}`, Accept: "application/json" };
	if (body !== undefined) headers["Content-Type"] = "application/json";
	let response;
	try {
		response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
	} catch (error) {
		throw new ApiError(0, "network", `cannot reach the server (${error instanceof Error ? error.message : String(error)})`);
	}
	const text = await response.text();
	let data = null;
	try {
		data = text === "" ? null : JSON.parse(text);
	} catch {
		data = null;
	}
	if (!response.ok) {
		const err = data && typeof data === "object" ? data.error : null;
		const code = err && typeof err.code === "string" ? err.code : `http_${response.status}`;
		const message = err && typeof err.message === "string" ? err.message : `HTTP ${response.status} ${response.statusText}`.trim();
		throw new ApiError(response.status, code, message);
	}
	if (data === null || typeof data !== "object") throw new ApiError(response.status, "bad_response", `${path}: the server did not answer JSON`);
	return data;
}

function query(params) {
	const search = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") search.set(k, String(v));
	const text = search.toString();
	return text === "" ? "" : `?${text}`;
}

/** A readable message for a refused credential, or null when the error is something else. */
function authMessage(error) {
	if (!(error instanceof ApiError)) return null;
	if (error.status === 401) {
		const claims = jwtClaims(token);
		const expired = claims && isNum(claims.exp) && claims.exp * 1000 < Date.now();
		return expired
			? `This token expired at ${new Date(claims.exp * 1000).toISOString()}. Mint a new one.`
			: `The server refused this token (401 ${error.code}: ${error.message}).`;
	}
	if (error.status === 403 && error.code === "forbidden") return `This token is not an admin (403 forbidden: ${error.message}).`;
	return null;
}

/** Any API failure: refused credentials go back to sign-in; the rest go to the banner. */
function handleError(error, context) {
	const auth = authMessage(error);
	if (auth !== null) {
		signOut(auth);
		return;
	}
	const message = error instanceof Error ? error.message : String(error);
	const code = error instanceof ApiError && error.status > 0 ? ` (${error.status} ${error.code})` : "";
	showBanner(`${context}: ${message}${code}`, "error", context);
}

// ---------------------------------------------------------------------------------------------
// Banner

let bannerSource = null;
let bannerTimer = null;

/** Errors stay until dismissed or resolved; confirmations fade after a while. */
function showBanner(text, kind = "error", source = null) {
	const banner = $("banner");
	banner.dataset.kind = kind;
	$("banner-text").textContent = text;
	banner.hidden = false;
	bannerSource = source;
	if (bannerTimer !== null) clearTimeout(bannerTimer);
	bannerTimer = kind === "ok" ? setTimeout(() => bannerSource === source && hideBanner(), 15_000) : null;
}

function hideBanner(source) {
	if (source !== undefined && bannerSource !== source) return;
	$("banner").hidden = true;
	bannerSource = null;
}

// ---------------------------------------------------------------------------------------------
// State (mirrored in the URL hash so a view can be linked)

const forcedReadOnly = new URLSearchParams(location.search).get("readonly") === "1";
const ui = {
	view: "sagas",
	state: "",
	room: "",
	kind: "",
	saga: "",
	task: "",
	trace: "",
	/** The open compensation, and whether the new-compensation form is open. */
	cmp: "",
	newCmp: false,
};

function readHash() {
	const params = new URLSearchParams(location.hash.replace(/^#/, ""));
	const view = params.get("view");
	ui.view = ["sagas", "tasks", "alerts", "audit", "compensations"].includes(view ?? "") ? /** @type {string} */ (view) : "sagas";
	ui.state = params.get("state") ?? "";
	ui.room = params.get("room") ?? "";
	ui.kind = params.get("kind") ?? "";
	ui.saga = params.get("saga") ?? "";
	ui.task = params.get("task") ?? "";
	ui.trace = params.get("trace") ?? "";
	ui.cmp = params.get("cmp") ?? "";
	ui.newCmp = params.get("new") === "1";
}

function writeHash() {
	const params = new URLSearchParams();
	params.set("view", ui.view);
	for (const key of ["state", "room", "kind", "saga", "task", "trace", "cmp"]) if (ui[key]) params.set(key, ui[key]);
	if (ui.newCmp) params.set("new", "1");
	history.replaceState(null, "", `${location.pathname}${location.search}#${params.toString()}`);
}

function isReadOnly() {
	return forcedReadOnly || sessionStorage.getItem(READONLY_KEY) === "1";
}

function applyReadOnly() {
	const on = isReadOnly();
	document.body.classList.toggle("readonly", on);
	const box = /** @type {HTMLInputElement} */ ($("readonly"));
	box.checked = on;
	box.disabled = forcedReadOnly;
	box.parentElement?.setAttribute("title", forcedReadOnly ? "Forced on by ?readonly=1 in the address" : "Hide every write action (retry, skip, cancel, new compensation)");
	// Write-only parts are removed from view, not merely styled away.
	for (const el of document.querySelectorAll(".write-only")) if (on) /** @type {HTMLElement} */ (el).hidden = true;
	if (on) {
		closeCmpDialog();
		if (ui.newCmp) closeNewCompensation();
	}
	updateNewButton();
}

// ---------------------------------------------------------------------------------------------
// Sign-in

function showSignIn(message) {
	$("app").hidden = true;
	$("signout").hidden = true;
	$("who").hidden = true;
	$("signin").hidden = false;
	const error = $("signin-error");
	error.textContent = message ?? "";
	error.hidden = !message;
	setLive("idle", "not connected");
	$("token").focus();
}

function signOut(message) {
	token = "";
	sessionStorage.removeItem(TOKEN_KEY);
	stopPolling();
	closeActionDialog();
	closeCmpDialog();
	hideBanner();
	showSignIn(message);
}

async function signIn(candidate) {
	const value = candidate.trim().replace(/^Bearer\s+/i, "");
	if (value === "") {
		showSignIn("Paste a token first.");
		return;
	}
	if (value.split(".").length !== 3) {
		showSignIn("That does not look like a JWT (three dot-separated parts).");
		return;
	}
	const button = /** @type {HTMLButtonElement} */ ($("signin-submit"));
	button.disabled = true;
	try {
		// Any admin route checks the credential; the stats are needed right away anyway.
		const stats = await api("/v1/admin/stats", { authToken: value });
		token = value;
		sessionStorage.setItem(TOKEN_KEY, value);
		startApp(stats);
	} catch (error) {
		if (error instanceof ApiError && (error.status === 401 || (error.status === 403 && error.code === "forbidden"))) {
			const previous = token;
			token = value;
			const message = authMessage(error);
			token = previous;
			showSignIn(message ?? error.message);
		} else if (error instanceof ApiError && error.status !== 0) {
			// The credential passed (or the route is missing); open the console and show the problem.
			token = value;
			sessionStorage.setItem(TOKEN_KEY, value);
			startApp(null);
			handleError(error, "Stats");
		} else {
			showSignIn(error instanceof Error ? error.message : String(error));
		}
	} finally {
		button.disabled = false;
	}
}

function startApp(stats) {
	$("signin").hidden = true;
	$("app").hidden = false;
	$("signout").hidden = false;
	/** @type {HTMLTextAreaElement} */ ($("token")).value = "";
	const claims = jwtClaims(token);
	const who = $("who");
	clear(who);
	if (claims) {
		append(who, ["signed in as ", h("strong", null, str(claims.name)), " ", h("span", { class: "mono muted" }, `(${str(claims.sub)})`)]);
		who.hidden = false;
	}
	if (stats) renderStats(stats);
	renderTabs();
	loadList();
	if (ui.cmp) openCompensation(ui.cmp, ui.task);
	else if (ui.saga) openSaga(ui.saga, ui.task);
	else if (ui.trace) openTrace({ traceId: ui.trace });
	else if (ui.newCmp) openNewCompensation();
	startPolling();
}

// ---------------------------------------------------------------------------------------------
// Stats: counts, latency histogram, oldest pending

function renderCounts(container, counts, order, view) {
	clear(container);
	const source = counts && typeof counts === "object" ? counts : {};
	const keys = [...order, ...Object.keys(source).filter((k) => !order.includes(k))];
	for (const key of keys) {
		const value = source[key];
		const n = isNum(value) ? value : null;
		const attention = n !== null && n > 0 && (key === "failed" || key === "compensating");
		container.appendChild(
			h(
				"button",
				{
					type: "button",
					class: `count st-${stateClass(key)}${attention ? " attention" : ""}`,
					title: `Show ${view} in state ${key}`,
					dataset: { state: key, count: n ?? "" },
					onclick: () => setView(view, { state: key, room: "" }),
				},
				h("span", { class: "count-n" }, n === null ? "—" : n.toLocaleString()),
				h("span", { class: "count-label" }, key),
			),
		);
	}
}

/** Per-bucket counts, whether the server sends per-bucket or cumulative (Prometheus-style) ones. */
function bucketCounts(latency) {
	const buckets = Array.isArray(latency?.buckets) ? latency.buckets.filter((b) => b && typeof b === "object") : [];
	const raw = buckets.map((b) => (isNum(b.count) ? b.count : 0));
	const total = isNum(latency?.count) ? latency.count : null;
	const sum = raw.reduce((a, b) => a + b, 0);
	const monotone = raw.every((v, i) => i === 0 || v >= raw[i - 1]);
	const cumulative = total !== null && sum !== total && monotone && raw.length > 0 && raw[raw.length - 1] === total;
	return buckets.map((b, i) => ({ le: isNum(b.leMs) ? b.leMs : null, count: cumulative ? raw[i] - (i > 0 ? raw[i - 1] : 0) : raw[i] }));
}

function renderLatency(latency) {
	const chart = $("latency-chart");
	clear(chart);
	const buckets = bucketCounts(latency);
	const total = isNum(latency?.count) ? latency.count : buckets.reduce((a, b) => a + b.count, 0);
	// The server reports a quantile as its bucket's upper bound; null with data means above the last bound.
	const quantile = (ms) => (isNum(ms) ? `≤ ${fmtDuration(ms)}` : total > 0 ? "> last bound" : "—");
	$("latency-p50").textContent = quantile(latency?.p50Ms);
	$("latency-p99").textContent = quantile(latency?.p99Ms);
	$("latency-count").textContent = total.toLocaleString();
	if (buckets.length === 0) {
		chart.appendChild(h("div", { class: "muted empty-chart" }, "no latency data"));
		return;
	}
	// Drawn at the container's pixel width so text keeps its size.
	const W = Math.max(240, Math.round(chart.clientWidth || 400));
	const H = 112;
	const top = 14;
	const bottom = 18;
	const left = 4;
	const gap = 3;
	const max = Math.max(1, ...buckets.map((b) => b.count));
	const bw = (W - left * 2) / buckets.length;
	const plot = H - top - bottom;
	const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "histogram", role: "img", "aria-label": "Commit to done latency histogram" });
	svg.appendChild(s("line", { x1: 0, x2: W, y1: H - bottom + 0.5, y2: H - bottom + 0.5, class: "axis" }));
	buckets.forEach((bucket, i) => {
		const x = left + i * bw + gap / 2;
		const barH = bucket.count === 0 ? 0 : Math.max(2, (bucket.count / max) * plot);
		const y = H - bottom - barH;
		const label = bucket.le === null ? "> last bound" : `≤ ${fmtLe(bucket.le)}`;
		svg.appendChild(
			s(
				"g",
				{ class: "bar-group" },
				s("title", null, `${label}: ${bucket.count.toLocaleString()} task(s)`),
				s("rect", { x: x.toFixed(1), y: y.toFixed(1), width: Math.max(1, bw - gap).toFixed(1), height: barH.toFixed(1), class: bucket.le === null ? "bar bar-inf" : "bar" }),
				bucket.count > 0 ? s("text", { x: (x + (bw - gap) / 2).toFixed(1), y: (y - 3).toFixed(1), class: "bar-value" }, String(bucket.count)) : null,
				s("text", { x: (x + (bw - gap) / 2).toFixed(1), y: H - 5, class: "bar-label" }, fmtLe(bucket.le, true)),
			),
		);
	});
	if (total === 0) svg.appendChild(s("text", { x: W / 2, y: H / 2, class: "chart-empty" }, "no completed tasks yet"));
	chart.appendChild(svg);
}

function renderStats(stats) {
	renderCounts($("task-counts"), stats?.tasks, TASK_STATES, "tasks");
	renderCounts($("saga-counts"), stats?.sagas, SAGA_STATES, "sagas");
	renderLatency(stats?.latency);
	const oldest = stats?.oldestPendingAgeMs;
	const el = $("oldest-pending");
	el.textContent = isNum(oldest) ? fmtDuration(oldest) : "none";
	el.dataset.level = !isNum(oldest) ? "ok" : oldest > 300_000 ? "bad" : oldest > 30_000 ? "warn" : "ok";
	$("stats-updated").textContent = `updated ${fmtTime(Date.now())}`;
}

// ---------------------------------------------------------------------------------------------
// Polling (paused while the tab is hidden)

let pollTimer = null;
let polling = false;

function setLive(state, text) {
	const live = $("live");
	live.dataset.state = state;
	live.textContent = text;
}

async function tick() {
	pollTimer = null;
	if (!polling) return;
	if (document.hidden) {
		setLive("paused", "paused (tab hidden)");
		return;
	}
	try {
		const stats = await api("/v1/admin/stats");
		if (!polling) return;
		renderStats(stats);
		setLive("live", `live · ${fmtTime(Date.now())}`);
		hideBanner("Stats");
	} catch (error) {
		if (!polling) return;
		setLive("error", "stats unavailable");
		handleError(error, "Stats");
	}
	if (polling && detail.kind !== null) await refreshDetail();
	schedule();
}

function schedule(delay = POLL_MS) {
	if (!polling || document.hidden) return;
	if (pollTimer !== null) clearTimeout(pollTimer);
	pollTimer = setTimeout(tick, delay);
}

function startPolling() {
	polling = true;
	setLive("live", "live");
	schedule();
}

function stopPolling() {
	polling = false;
	if (pollTimer !== null) clearTimeout(pollTimer);
	pollTimer = null;
	stopCmpPoll();
}

document.addEventListener("visibilitychange", () => {
	if (!polling) return;
	if (document.hidden) {
		if (pollTimer !== null) clearTimeout(pollTimer);
		pollTimer = null;
		stopCmpPoll();
		setLive("paused", "paused (tab hidden)");
	} else {
		schedule(0);
	}
});

// ---------------------------------------------------------------------------------------------
// Lists: sagas, tasks, alerts, audit

const LISTS = {
	sagas: {
		path: "/v1/admin/sagas",
		key: "sagas",
		filterLabel: "State",
		states: SAGA_STATES,
		serverFilters: true,
		paged: true,
		columns: ["Created", "State", "Origin → targets", "Message", "Saga", "Updated"],
		row: (saga) => [
			timeCell(saga.createdAt),
			badge(saga.state),
			h(
				"span",
				{ class: "rooms" },
				h("span", { class: "mono" }, str(saga.originRoom)),
				" → ",
				h("span", { class: "mono" }, Array.isArray(saga.targets) ? saga.targets.map(str).join(", ") : "—"),
			),
			idCell(saga.msgId),
			idCell(saga.sagaId),
			h("span", { class: "muted" }, fmtAgo(saga.updatedAt)),
		],
		open: (saga) => openSaga(saga.sagaId, ""),
		id: (saga) => saga.sagaId,
		data: (saga) => ({ sagaId: str(saga.sagaId), state: str(saga.state) }),
	},
	tasks: {
		path: "/v1/admin/tasks",
		key: "tasks",
		filterLabel: "State",
		states: TASK_STATES,
		serverFilters: true,
		paged: true,
		columns: ["Created", "State", "Kind", "Target room", "Origin", "Tries", "Updated", "Last error"],
		row: (task) => [
			timeCell(task.createdAt),
			badge(task.state),
			h("span", { class: kindClass(task.kind) }, str(task.kind)),
			h("span", { class: "mono" }, str(task.room)),
			h("span", { class: "mono muted" }, str(task.originRoom)),
			h("span", { class: "num" }, isNum(task.attempts) ? String(task.attempts) : "—"),
			h("span", { class: "muted" }, fmtAgo(task.updatedAt)),
			h("span", { class: "error-text clip", title: typeof task.lastError === "string" ? task.lastError : null }, task.lastError ? str(task.lastError) : ""),
		],
		title: (task) => task.taskId,
		open: (task) => openOwner(task.sagaId ?? sagaIdOfTask(task.taskId) ?? "", task.taskId ?? ""),
		id: (task) => task.taskId,
		data: (task) => ({ taskId: str(task.taskId), sagaId: str(task.sagaId), state: str(task.state), kind: str(task.kind), room: str(task.room) }),
	},
	alerts: {
		path: "/v1/admin/alerts",
		key: "alerts",
		filterLabel: "Webhook",
		states: ALERT_STATUSES,
		serverFilters: false,
		paged: false,
		columns: ["At", "Kind", "Webhook", "Room", "Tries", "Error", "Webhook error"],
		row: (alert) => [
			timeCell(alert.at),
			h("span", { class: `kind alert-${alert.kind === "task_stuck" ? "stuck" : "failed"}` }, str(alert.kind)),
			h("span", null, badge(alert.status), isNum(alert.deliveryAttempts) && alert.deliveryAttempts > 1 ? h("span", { class: "muted tiny" }, ` ×${alert.deliveryAttempts}`) : null),
			h("span", { class: "mono" }, str(alert.room)),
			h("span", { class: "num" }, isNum(alert.attempts) ? String(alert.attempts) : "—"),
			h("span", { class: "error-text clip", title: typeof alert.error === "string" ? alert.error : null }, alert.error ? str(alert.error) : ""),
			h("span", { class: "error-text clip", title: typeof alert.lastError === "string" ? alert.lastError : null }, alert.lastError ? str(alert.lastError) : ""),
		],
		title: (alert) => alert.taskId,
		matches: (alert, state, room) => (!state || alert.status === state) && (!room || alert.room === room),
		open: (alert) => {
			const sagaId = alert.sagaId ?? sagaIdOfTask(alert.taskId);
			if (sagaId) openOwner(sagaId, alert.taskId ?? "");
			else openTrace(alert);
		},
		id: (alert) => alert.alertId,
		data: (alert) => ({ alertId: str(alert.alertId), status: str(alert.status), taskId: str(alert.taskId) }),
	},
	audit: {
		path: "/v1/admin/audit",
		key: "entries",
		filterLabel: "Action",
		states: AUDIT_ACTIONS,
		serverFilters: false,
		paged: false,
		columns: ["At", "Actor", "Action", "Transition", "Reason", "Task"],
		row: (entry) => [
			timeCell(entry.at),
			h("strong", { class: "actor" }, str(entry.actor)),
			h("span", { class: `action action-${AUDIT_ACTIONS.includes(entry.action) ? entry.action : "other"}` }, str(entry.action)),
			h("span", { class: "transition" }, badge(entry.from), " → ", badge(entry.to)),
			h("span", { class: "reason", title: typeof entry.reason === "string" ? entry.reason : null }, str(entry.reason)),
			taskLabel(entry.taskId),
		],
		matches: (entry, action, room) => (!action || entry.action === action) && (!room || String(entry.taskId ?? "").endsWith(`.${room}`)),
		open: (entry) => {
			const sagaId = entry.sagaId ?? sagaIdOfTask(entry.taskId);
			if (sagaId) openOwner(sagaId, entry.taskId ?? "");
			else openTrace(entry);
		},
		id: (entry) => `${entry.at}:${entry.taskId}:${entry.action}`,
		data: (entry) => ({ taskId: str(entry.taskId), action: str(entry.action), actor: str(entry.actor) }),
	},
	compensations: {
		path: "/v1/admin/compensations",
		key: "compensations",
		filterLabel: "State",
		states: CMP_STATES,
		serverFilters: true,
		noRoomFilter: true,
		paged: true,
		columns: ["Created", "State", "Actor", "Reason", "Rooms", "Compensation", "Updated"],
		row: (cmp) => [
			timeCell(cmp.createdAt),
			badge(cmp.state),
			h("strong", { class: "actor" }, str(cmp.actor)),
			h("span", { class: "reason", title: typeof cmp.reason === "string" ? cmp.reason : null }, str(cmp.reason)),
			h("span", { class: "rooms mono" }, Array.isArray(cmp.rooms) && cmp.rooms.length ? cmp.rooms.map(str).join(", ") : "—"),
			idCell(cmp.id),
			h("span", { class: "muted" }, fmtAgo(cmp.updatedAt)),
		],
		title: (cmp) => cmp.id,
		open: (cmp) => openCompensation(cmp.id, ""),
		id: (cmp) => cmp.id,
		data: (cmp) => ({ cmpId: str(cmp.id), state: str(cmp.state), actor: str(cmp.actor) }),
	},
};

const list = { generation: 0, cursor: null, rows: 0 };

function renderTabs() {
	for (const tab of document.querySelectorAll(".tabs [data-view]")) {
		const active = tab.getAttribute("data-view") === ui.view;
		tab.setAttribute("aria-selected", String(active));
		tab.classList.toggle("active", active);
	}
	const config = LISTS[ui.view];
	const select = /** @type {HTMLSelectElement} */ ($("filter-state"));
	clear(select);
	select.appendChild(h("option", { value: "" }, "any"));
	for (const state of config.states) select.appendChild(h("option", { value: state }, state));
	if (ui.state && !config.states.includes(ui.state)) select.appendChild(h("option", { value: ui.state }, ui.state));
	select.value = ui.state;
	$("filter-state-label").textContent = config.filterLabel;
	/** @type {HTMLInputElement} */ ($("filter-room")).value = ui.room;
	$("filter-kind-label").hidden = ui.view !== "tasks";
	$("filter-room-label").hidden = Boolean(config.noRoomFilter);
	updateNewButton();
	/** @type {HTMLSelectElement} */ ($("filter-kind")).value = ui.view === "tasks" ? ui.kind : "";
	const head = $("list-head");
	clear(head);
	head.appendChild(h("tr", null, config.columns.map((c) => h("th", { scope: "col" }, c))));
}

function setView(view, filters = {}) {
	ui.view = view;
	ui.state = filters.state ?? "";
	ui.room = filters.room ?? "";
	ui.kind = filters.kind ?? "";
	writeHash();
	renderTabs();
	loadList();
}

async function loadList(more = false) {
	const config = LISTS[ui.view];
	const generation = ++list.generation;
	const body = $("list-body");
	const moreButton = /** @type {HTMLButtonElement} */ ($("list-more"));
	const errorBox = $("list-error");
	if (!more) {
		list.cursor = null;
		list.rows = 0;
	}
	moreButton.disabled = true;
	$("list").setAttribute("aria-busy", "true");
	const params = config.serverFilters
		? {
				state: ui.state,
				room: config.noRoomFilter ? "" : ui.room,
				kind: ui.view === "tasks" ? ui.kind : "",
				limit: PAGE_SIZE,
				cursor: more ? list.cursor : null,
			}
		: { limit: LOG_LIMIT, cursor: more ? list.cursor : null };
	try {
		const data = await api(`${config.path}${query(params)}`);
		if (generation !== list.generation) return;
		errorBox.hidden = true;
		const items = (Array.isArray(data[config.key]) ? data[config.key] : []).filter((item) => item && typeof item === "object");
		const shown = config.matches ? items.filter((item) => config.matches(item, ui.state, ui.room)) : items;
		if (!more) clear(body);
		for (const item of shown) {
			const selected =
				(ui.view === "tasks" && item.taskId && item.taskId === ui.task) ||
				(ui.view === "sagas" && item.sagaId && item.sagaId === ui.saga) ||
				(ui.view === "compensations" && item.id && item.id === ui.cmp);
			const tr = h(
				"tr",
				{
					tabindex: 0,
					class: selected ? "clickable selected" : "clickable",
					dataset: config.data(item),
					title: config.title && typeof config.title(item) === "string" ? config.title(item) : null,
				},
				config.row(item).map((cell) => h("td", null, cell)),
			);
			const open = () => {
				for (const row of body.querySelectorAll("tr.selected")) row.classList.remove("selected");
				tr.classList.add("selected");
				config.open(item);
			};
			tr.addEventListener("click", open);
			tr.addEventListener("keydown", (event) => {
				if (event.key === "Enter" || event.key === " ") {
					event.preventDefault();
					open();
				}
			});
			body.appendChild(tr);
		}
		list.rows += shown.length;
		if (list.rows === 0) body.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: config.columns.length }, "Nothing matches.")));
		list.cursor = typeof data.cursor === "string" && data.cursor !== "" ? data.cursor : null;
		moreButton.hidden = list.cursor === null;
		const filtered = !config.serverFilters && shown.length !== items.length ? ` (of ${items.length} fetched)` : "";
		$("list-count").textContent = `${list.rows} ${ui.view === "audit" ? "entries" : ui.view}${filtered}${list.cursor ? " · more available" : ""}`;
		if (ui.view === "audit" || ui.view === "alerts") hideBanner(`${titleOf(ui.view)}`);
	} catch (error) {
		if (generation !== list.generation) return;
		const auth = authMessage(error);
		if (auth !== null) return signOut(auth);
		errorBox.textContent = `Could not load ${ui.view}: ${error instanceof Error ? error.message : String(error)}`;
		errorBox.hidden = false;
		handleError(error, titleOf(ui.view));
	} finally {
		if (generation === list.generation) {
			moreButton.disabled = false;
			$("list").removeAttribute("aria-busy");
		}
	}
}

function titleOf(view) {
	return { sagas: "Sagas", tasks: "Tasks", alerts: "Alerts", audit: "Audit log", compensations: "Compensations" }[view] ?? view;
}

// ---------------------------------------------------------------------------------------------
// Detail: a saga (fields, graph of rooms, message, steps with actions, trace) or a bare trace

/** What the detail pane shows, and the JSON it was last drawn from (to skip needless redraws). */
const detail = { kind: null, sagaId: "", cmpId: "", cmpState: "", taskId: "", traceSource: null, sagaJson: "", traceJson: "", generation: 0 };

function openSaga(sagaId, taskId) {
	if (!sagaId) {
		showBanner("This row has no saga id to open.", "error", "Detail");
		return;
	}
	leaveCompensation();
	Object.assign(detail, { kind: "saga", sagaId, taskId: taskId ?? "", traceSource: null, sagaJson: "", traceJson: "" });
	ui.saga = sagaId;
	ui.task = taskId ?? "";
	ui.trace = "";
	writeHash();
	renderDetailLoading(`Saga ${sagaId}`);
	refreshDetail();
}

function openTrace(source) {
	const traceId = source?.traceId;
	if (typeof traceId !== "string" || traceId === "") {
		showBanner("This entry has no trace id to open.", "error", "Detail");
		return;
	}
	leaveCompensation();
	Object.assign(detail, { kind: "trace", sagaId: "", taskId: source.taskId ?? "", traceSource: source, sagaJson: "", traceJson: "" });
	ui.saga = "";
	ui.task = "";
	ui.trace = traceId;
	writeHash();
	renderDetailLoading(`Trace ${traceId}`);
	refreshDetail();
}

/** Closes the new-compensation form and forgets the open compensation (before opening something else). */
function leaveCompensation() {
	stopCmpPoll();
	hideNewForm();
	Object.assign(detail, { cmpId: "", cmpState: "" });
	ui.cmp = "";
	ui.newCmp = false;
}

function closeDetail() {
	leaveCompensation();
	Object.assign(detail, { kind: null, sagaId: "", taskId: "", traceSource: null, sagaJson: "", traceJson: "" });
	detail.generation++;
	ui.saga = "";
	ui.task = "";
	ui.trace = "";
	writeHash();
	$("detail-body").hidden = true;
	$("detail-empty").hidden = false;
	for (const row of document.querySelectorAll("#list-body tr.selected")) row.classList.remove("selected");
}

function renderDetailLoading(title) {
	const body = $("detail-body");
	clear(body);
	body.appendChild(h("div", { class: "detail-head" }, h("h2", null, title), h("span", { class: "muted" }, "loading…")));
	body.hidden = false;
	$("detail-empty").hidden = true;
}

/**
 * Loads the data of the open detail. Failures are shown in the detail pane (or sign the
 * operator out); `undefined` means there is nothing to render, also when the operator has
 * moved to another detail meanwhile.
 * @param {string} path
 * @param {string} title
 * @param {() => boolean} isCurrent
 */
async function loadDetail(path, title, isCurrent) {
	try {
		return await api(path);
	} catch (error) {
		if (!isCurrent()) return undefined;
		const auth = authMessage(error);
		if (auth !== null) signOut(auth);
		else renderDetailError(title, error);
		return undefined;
	}
}

async function refreshDetail() {
	const generation = detail.generation;
	if (detail.kind === "saga") {
		const sagaId = detail.sagaId;
		const current = () => generation === detail.generation && detail.sagaId === sagaId;
		const saga = await loadDetail(`/v1/admin/sagas/${encodeURIComponent(sagaId)}`, `Saga ${sagaId}`, current);
		if (saga === undefined || !current()) return;
		const json = JSON.stringify(saga);
		if (json !== detail.sagaJson) {
			detail.sagaJson = json;
			renderSaga(saga);
		}
		hideBanner("Detail");
		if (typeof saga.traceId === "string" && saga.traceId !== "") await refreshTrace(saga.traceId, generation);
	} else if (detail.kind === "compensation") {
		await refreshCompensation(generation);
	} else if (detail.kind === "trace") {
		const source = detail.traceSource;
		if (!detail.traceJson) renderTraceOnly(source);
		await refreshTrace(source.traceId, generation);
	}
}

function renderDetailError(title, error) {
	const body = $("detail-body");
	clear(body);
	const notFound = error instanceof ApiError && error.status === 404;
	body.appendChild(
		h(
			"div",
			{ class: "detail-head" },
			h("h2", null, title),
			h("span", { class: "spacer" }),
			h("button", { type: "button", class: "ghost small", onclick: closeDetail }, "Close"),
		),
	);
	body.appendChild(
		h("div", { class: "inline-error" }, notFound ? `Not found: ${error.message}` : `Could not load: ${error instanceof Error ? error.message : String(error)}`),
	);
	detail.sagaJson = "";
}

function field(label, ...value) {
	return [h("dt", null, label), h("dd", null, ...value)];
}

function renderSaga(saga) {
	const body = $("detail-body");
	clear(body);
	body.hidden = false;
	$("detail-empty").hidden = true;
	const steps = (Array.isArray(saga.steps) ? saga.steps : []).filter((t) => t && typeof t === "object");
	const targets = [...new Set([...(Array.isArray(saga.targets) ? saga.targets : []), ...steps.map((t) => t.room)].filter((r) => typeof r === "string"))];

	body.appendChild(
		h(
			"div",
			{ class: "detail-head" },
			h("h2", null, "Saga ", h("span", { class: "mono", id: "saga-id" }, str(saga.sagaId))),
			h("span", { id: "saga-state" }, badge(saga.state)),
			h("span", { class: "spacer" }),
			h("button", { type: "button", class: "ghost small", onclick: () => ((detail.sagaJson = ""), refreshDetail()) }, "Refresh"),
			h("button", { type: "button", class: "ghost small", onclick: closeDetail }, "Close"),
		),
	);

	body.appendChild(
		h(
			"dl",
			{ class: "fields" },
			field("Origin room", h("span", { class: "mono" }, str(saga.originRoom))),
			field("Targets", h("span", { class: "mono" }, targets.length ? targets.join(", ") : "—")),
			field("Message id", h("span", { class: "mono" }, str(saga.msgId))),
			field("Trace id", h("span", { class: "mono" }, str(saga.traceId))),
			field("Created", timeCell(saga.createdAt), " ", h("span", { class: "muted" }, fmtAgo(saga.createdAt))),
			field("Updated", timeCell(saga.updatedAt), " ", h("span", { class: "muted" }, fmtAgo(saga.updatedAt))),
		),
	);

	body.appendChild(h("h3", null, "Message"));
	body.appendChild(
		typeof saga.text === "string"
			? h("pre", { class: "message-text", id: "message-text" }, saga.text)
			: h("p", { class: "muted", id: "message-text" }, "(the server did not include the message text)"),
	);

	body.appendChild(h("h3", null, "Rooms"));
	body.appendChild(sagaGraph(saga, targets, steps));

	body.appendChild(h("h3", null, "Steps"));
	body.appendChild(stepsTable(steps, saga.state));

	body.appendChild(h("h3", null, "Trace ", h("span", { class: "muted h3-note" }, str(saga.traceId))));
	body.appendChild(h("div", { id: "trace", class: "trace" }, h("span", { class: "muted" }, "loading…")));
	detail.traceJson = "";
}

/** The step that best describes a room now: the latest retract if any, else the deliver. */
function stepsByRoom(steps) {
	const map = new Map();
	for (const step of steps) {
		const room = typeof step.room === "string" ? step.room : "?";
		const entry = map.get(room) ?? { deliver: null, retract: null };
		if (step.kind === "retract") entry.retract = step;
		else entry.deliver = step;
		map.set(room, entry);
	}
	return map;
}

function clip(text, n) {
	const chars = [...text];
	return chars.length > n ? `${chars.slice(0, n - 1).join("")}…` : text;
}

function sagaGraph(saga, targets, steps) {
	const byRoom = stepsByRoom(steps);
	const rooms = targets.length ? targets : [...byRoom.keys()];
	const W = 540;
	const rowH = 52;
	const H = Math.max(90, rooms.length * rowH + 24);
	const nodeW = 150;
	const nodeH = 28;
	const ox = 10;
	const tx = W - nodeW - 10;
	const oy = H / 2;
	const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "graph", role: "img", "aria-label": "Saga graph: origin room to target rooms", id: "saga-graph" });

	const node = (x, y, label, cls) =>
		s(
			"g",
			{ class: `node ${cls}` },
			s("title", null, label),
			s("rect", { x, y: y - nodeH / 2, width: nodeW, height: nodeH, rx: 5 }),
			s("text", { x: x + nodeW / 2, y: y + 4 }, clip(label, 20)),
		);

	rooms.forEach((room, i) => {
		const y = 16 + rowH / 2 + i * rowH + (H - 24 - rooms.length * rowH) / 2;
		const entry = byRoom.get(room) ?? { deliver: null, retract: null };
		const parts = [
			["deliver", entry.deliver, entry.retract ? -4 : 0],
			["retract", entry.retract, 4],
		].filter(([, step]) => step !== null);
		for (const [kind, step, off] of parts) {
			const x1 = ox + nodeW;
			const x2 = tx;
			const mid = (x1 + x2) / 2;
			const d = `M ${x1} ${oy + off} C ${mid} ${oy + off}, ${mid} ${y + off}, ${x2} ${y + off}`;
			svg.appendChild(
				s(
					"g",
					{ class: `edge ${kind} st-${stateClass(step.state)}`, "data-room": room, "data-kind": kind, "data-state": str(step.state) },
					s("title", null, `${kind} → ${room}: ${str(step.state)}, ${isNum(step.attempts) ? step.attempts : "?"} attempt(s)${step.lastError ? `, last error: ${step.lastError}` : ""}`),
					s("path", { d }),
					s("circle", { cx: x2 - 3, cy: y + off, r: 3 }),
				),
			);
		}
		const status = parts.map(([kind, step]) => `${kind} ${str(step.state)}`).join(" · ");
		const worst = entry.retract ?? entry.deliver;
		svg.appendChild(node(tx, y, room, `target st-${stateClass(worst?.state)}`));
		svg.appendChild(s("text", { x: tx + nodeW, y: y - nodeH / 2 - 3, class: "edge-label" }, status || "no step"));
	});
	svg.appendChild(node(ox, oy, str(saga.originRoom), "origin"));

	const present = [...new Set(steps.map((t) => stateClass(t.state)))];
	const legend = h(
		"div",
		{ class: "legend" },
		h("span", { class: "legend-item" }, h("span", { class: "swatch solid" }), "deliver"),
		h("span", { class: "legend-item" }, h("span", { class: "swatch dashed" }), "retract"),
		present.map((state) => h("span", { class: "legend-item" }, h("span", { class: `swatch st-${state}` }), state)),
	);
	return h("div", { class: "graph-wrap" }, svg, legend);
}

/**
 * The actions worth offering for a task. Beyond the state machine, the server refuses (409)
 * a delivery's retry once its saga stopped running, and any cancel of a compensation.
 * @param {Record<string, unknown>} task
 * @param {string | undefined} sagaState
 */
function offeredActions(task, sagaState) {
	return (ACTIONS_FROM[task.state] ?? []).filter(
		(action) =>
			!(action === "retry" && task.kind === "deliver" && sagaState !== undefined && sagaState !== "running") &&
			!(action === "cancel" && task.kind === "retract"),
	);
}

/**
 * @param {Array<Record<string, unknown>>} steps
 * @param {string} [sagaState] the saga's state, when the steps are a saga's
 */
function stepsTable(steps, sagaState) {
	const readOnly = isReadOnly();
	const sorted = [...steps].sort((a, b) => (a.kind === b.kind ? String(a.room).localeCompare(String(b.room)) : a.kind === "deliver" ? -1 : 1));
	const table = h(
		"table",
		{ class: "grid steps", id: "steps" },
		h(
			"thead",
			null,
			h("tr", null, ["Kind", "Room", "State", "Tries", ...(readOnly ? [] : ["Actions"])].map((c) => h("th", { scope: "col" }, c))),
		),
	);
	const tbody = h("tbody");
	const columns = readOnly ? 4 : 5;
	for (const task of sorted) {
		const actions = offeredActions(task, sagaState);
		const selected = Boolean(task.taskId) && task.taskId === detail.taskId;
		const hasError = typeof task.lastError === "string" && task.lastError !== "";
		tbody.appendChild(
			h(
				"tr",
				{
					class: [selected ? "selected" : "", hasError ? "has-error" : ""].join(" ").trim() || null,
					dataset: { taskId: str(task.taskId), state: str(task.state), kind: str(task.kind), room: str(task.room) },
					title: typeof task.taskId === "string" ? task.taskId : null,
				},
				h("td", null, h("span", { class: kindClass(task.kind) }, str(task.kind))),
				h("td", null, h("span", { class: "mono" }, str(task.room))),
				h(
					"td",
					{ class: "step-state" },
					badge(task.state),
					isNum(task.nextAttemptAt) && (task.state === "pending" || task.state === "processing")
						? h("span", { class: "muted tiny next", title: `next attempt at ${new Date(task.nextAttemptAt).toISOString()}` }, ` next ${fmtTime(task.nextAttemptAt)}`)
						: null,
				),
				h("td", { class: "num-cell" }, isNum(task.attempts) ? String(task.attempts) : "—"),
				readOnly
					? null
					: h(
							"td",
							null,
							h(
								"div",
								{ class: "actions" },
							actions.length === 0
								? h("span", { class: "muted" }, "—")
								: actions.map((action) =>
										h(
											"button",
											{
												type: "button",
												class: `small action-btn ${action === "retry" ? "primary" : "ghost"}`,
												dataset: { action, taskId: str(task.taskId) },
												title: ACTION_HELP[action],
												onclick: () => openActionDialog(task, action),
											},
											ACTION_LABEL[action],
										),
									),
							),
						),
			),
		);
		if (hasError) {
			tbody.appendChild(
				h(
					"tr",
					{ class: selected ? "step-error selected" : "step-error", dataset: { errorFor: str(task.taskId) } },
					h("td", { colspan: columns }, h("span", { class: "muted tiny" }, "last error "), h("span", { class: "error-text" }, task.lastError)),
				),
			);
		}
	}
	if (sorted.length === 0) tbody.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: columns }, "No steps.")));
	table.appendChild(tbody);
	return h("div", { class: "table-wrap" }, table);
}

function renderTraceOnly(source) {
	const body = $("detail-body");
	clear(body);
	body.hidden = false;
	$("detail-empty").hidden = true;
	body.appendChild(
		h(
			"div",
			{ class: "detail-head" },
			h("h2", null, "Trace ", h("span", { class: "mono" }, str(source.traceId))),
			h("span", { class: "spacer" }),
			h("button", { type: "button", class: "ghost small", onclick: closeDetail }, "Close"),
		),
	);
	const rows = [];
	for (const key of ["taskId", "sagaId", "room", "actor", "action", "reason", "kind", "status", "error"]) {
		if (source[key] !== undefined && source[key] !== null) rows.push(...field(key, h("span", { class: "mono" }, str(source[key]))));
	}
	if (rows.length) body.appendChild(h("dl", { class: "fields" }, rows));
	body.appendChild(h("h3", null, "Trace"));
	body.appendChild(h("div", { id: "trace", class: "trace" }, h("span", { class: "muted" }, "loading…")));
}

async function refreshTrace(traceId, generation) {
	let data;
	let failure = null;
	try {
		data = await api(`/v1/admin/traces/${encodeURIComponent(traceId)}`);
	} catch (error) {
		const auth = authMessage(error);
		if (auth !== null) return signOut(auth);
		failure = error;
	}
	if (generation !== detail.generation) return;
	const box = document.getElementById("trace");
	if (!box) return;
	const json = failure ? `error:${failure.message}` : JSON.stringify(data);
	if (json === detail.traceJson) return;
	detail.traceJson = json;
	clear(box);
	if (failure) {
		box.appendChild(
			h("div", { class: "inline-error" }, failure instanceof ApiError && failure.status === 404 ? "No trace recorded for this id." : `Could not load the trace: ${failure.message}`),
		);
		return;
	}
	const spans = (Array.isArray(data.spans) ? data.spans : []).filter((span) => span && typeof span === "object");
	if (spans.length === 0) {
		box.appendChild(h("p", { class: "muted" }, "No spans yet."));
		return;
	}
	const first = spans.find((span) => isNum(span.at))?.at ?? null;
	const ol = h("ol", { class: "timeline", id: "trace-spans" });
	for (const span of spans) {
		const event = str(span.event);
		const bad = /fail|error|dead|refus|alert/i.test(event);
		ol.appendChild(
			h(
				"li",
				{ class: bad ? "span bad" : "span", dataset: { event, component: str(span.component) } },
				h("span", { class: "span-offset mono" }, isNum(span.at) && first !== null ? `+${fmtDuration(span.at - first)}` : ""),
				h("span", { class: "span-time muted" }, timeCell(span.at)),
				h("span", { class: "span-component" }, str(span.component)),
				h("span", { class: "span-room mono" }, span.room ? str(span.room) : ""),
				h("span", { class: "span-event" }, event),
				h("span", { class: "span-detail", title: span.detail !== undefined ? str(span.detail) : null }, span.detail !== undefined && span.detail !== null ? str(span.detail) : ""),
			),
		);
	}
	box.appendChild(ol);
}

// ---------------------------------------------------------------------------------------------
// Compensations: the detail (progress, tasks, audit, trace) and the new-compensation form

let cmpTimer = null;

function stopCmpPoll() {
	if (cmpTimer !== null) clearTimeout(cmpTimer);
	cmpTimer = null;
}

/** While an open compensation is not done, it is polled every CMP_POLL_MS (never while the tab is hidden). */
function scheduleCmpPoll() {
	stopCmpPoll();
	if (!polling || document.hidden || detail.kind !== "compensation" || detail.cmpState === "done") return;
	const cmpId = detail.cmpId;
	cmpTimer = setTimeout(() => {
		cmpTimer = null;
		if (polling && detail.kind === "compensation" && detail.cmpId === cmpId) refreshDetail();
	}, CMP_POLL_MS);
}

/** Opens a compensation; `initial` (the creation's answer) is drawn at once while the full view loads. */
function openCompensation(id, taskId, initial) {
	if (typeof id !== "string" || !CMP_ID_RE.test(id)) {
		showBanner(`"${str(id)}" is not a compensation id (cmp@ and 12 hex digits).`, "error", "Detail");
		return;
	}
	leaveCompensation();
	detail.generation++;
	Object.assign(detail, { kind: "compensation", sagaId: "", cmpId: id, cmpState: "", taskId: taskId ?? "", traceSource: null, sagaJson: "", traceJson: "" });
	ui.cmp = id;
	ui.saga = "";
	ui.task = taskId ?? "";
	ui.trace = "";
	writeHash();
	for (const row of document.querySelectorAll("#list-body tr[data-cmp-id]")) row.classList.toggle("selected", row.getAttribute("data-cmp-id") === id);
	if (initial && typeof initial === "object") {
		detail.cmpState = typeof initial.state === "string" ? initial.state : "";
		renderCompensation(initial);
	} else {
		renderDetailLoading(`Compensation ${id}`);
	}
	refreshDetail();
}

async function refreshCompensation(generation) {
	const id = detail.cmpId;
	const current = () => generation === detail.generation && detail.cmpId === id;
	// A missing compensation stays missing; anything else is tried again on the regular poll.
	const view = await loadDetail(`/v1/admin/compensations/${encodeURIComponent(id)}`, `Compensation ${id}`, current);
	if (view === undefined || !current()) return;
	detail.cmpState = typeof view.state === "string" ? view.state : "";
	const json = JSON.stringify(view);
	if (json !== detail.sagaJson) {
		detail.sagaJson = json;
		renderCompensation(view);
	}
	hideBanner("Detail");
	scheduleCmpPoll();
	if (typeof view.traceId === "string" && view.traceId !== "") await refreshTrace(view.traceId, generation);
}

const num = (v) => (isNum(v) ? v : 0);

function fmtFull(ms) {
	if (!isNum(ms)) return "—";
	const d = new Date(ms);
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A selector as [label, text] pairs, in a fixed order; absent parts are left out. */
function selectorParts(selector) {
	const sel = selector && typeof selector === "object" ? selector : {};
	const parts = [];
	if (sel.author !== undefined) parts.push(["author", str(sel.author)]);
	if (sel.room !== undefined) parts.push(["room", str(sel.room)]);
	if (sel.from !== undefined || sel.to !== undefined) {
		parts.push(["time", `${isNum(sel.from) ? fmtFull(sel.from) : "any time"} → ${isNum(sel.to) ? fmtFull(sel.to) : "now and later"}`]);
	}
	if (Array.isArray(sel.msgIds)) parts.push(["message ids", sel.msgIds.map(str).join(", ")]);
	return parts;
}

function selectorText(selector) {
	const parts = selectorParts(selector);
	return parts.length === 0 ? "—" : parts.map(([label, text]) => `${label}: ${text}`).join(" · ");
}

/** One bar: `value` of `total`, with the counts as text and as data attributes. */
function progressRow(key, label, value, total, note) {
	const bounded = total > 0 ? Math.min(value, total) : 0;
	return h(
		"div",
		{ class: `progress-row${total > 0 && value >= total ? " complete" : ""}`, id: `cmp-progress-${key}`, dataset: { done: value, total } },
		h("span", { class: "progress-label" }, label),
		h("progress", { max: Math.max(total, 1), value: bounded, "aria-label": `${label}: ${value} of ${total}` }),
		h("span", { class: "progress-count mono" }, `${value} / ${total}`),
		note ? h("span", { class: "muted tiny progress-note" }, note) : null,
	);
}

function progressBlock(progress) {
	const matched = progress?.matched ?? {};
	const done = progress?.done ?? {};
	const failed = progress?.failed ?? {};
	const retracted = num(done.messages) + num(done.alreadyGone);
	const gone = num(done.alreadyGone);
	return h(
		"div",
		{ class: "progress-block", id: "cmp-progress" },
		progressRow("messages", "Messages retracted", retracted, num(matched.messages), gone > 0 ? `${gone} already gone` : null),
		progressRow("rooms", "Rooms finished", num(done.rooms), num(matched.rooms), null),
		h(
			"div",
			{ class: "progress-row copies-row", id: "cmp-progress-copies", dataset: { copies: num(matched.copies), sagas: num(done.sagasCompensated) } },
			h("span", { class: "progress-label" }, "Cross-posted copies"),
			h(
				"span",
				{ class: "progress-text" },
				`${num(matched.copies)} matched · retracted by their origin rooms' sagas: ${num(done.sagasCompensated)} saga(s) compensated so far`,
			),
		),
		num(failed.rooms) > 0
			? h("p", { class: "inline-error", id: "cmp-failed" }, `${num(failed.rooms)} room task(s) failed: read the last error below, fix the cause and retry the task.`)
			: null,
	);
}

function cmpAuditTable(entries) {
	if (!Array.isArray(entries)) return h("p", { class: "muted", id: "cmp-audit" }, "loading…");
	const rows = entries.filter((e) => e && typeof e === "object");
	const table = h(
		"table",
		{ class: "grid", id: "cmp-audit" },
		h("thead", null, h("tr", null, LISTS.audit.columns.map((c) => h("th", { scope: "col" }, c)))),
	);
	const tbody = h("tbody");
	for (const entry of rows) tbody.appendChild(h("tr", { dataset: LISTS.audit.data(entry) }, LISTS.audit.row(entry).map((cell) => h("td", null, cell))));
	if (rows.length === 0) tbody.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: LISTS.audit.columns.length }, "No audit entries.")));
	table.appendChild(tbody);
	return h("div", { class: "table-wrap" }, table);
}

function renderCompensation(view) {
	const body = $("detail-body");
	clear(body);
	body.hidden = false;
	$("detail-empty").hidden = true;
	const tasks = (Array.isArray(view.tasks) ? view.tasks : []).filter((t) => t && typeof t === "object");
	const state = typeof view.state === "string" ? view.state : "unknown";
	const finished = state === "done";
	body.appendChild(
		h(
			"div",
			{ class: "detail-head" },
			h("h2", null, "Compensation ", h("span", { class: "mono", id: "cmp-id" }, str(view.id))),
			h("span", { id: "cmp-state" }, badge(state)),
			h(
				"span",
				{ id: "cmp-live", class: `muted tiny cmp-live${finished ? "" : " polling"}`, dataset: { polling: String(!finished) } },
				finished ? "finished" : `following live (every ${CMP_POLL_MS / 1000} s)`,
			),
			h("span", { class: "spacer" }),
			h("button", { type: "button", class: "ghost small", onclick: () => ((detail.sagaJson = ""), refreshDetail()) }, "Refresh"),
			h("button", { type: "button", class: "ghost small", onclick: closeDetail }, "Close"),
		),
	);
	body.appendChild(
		h(
			"dl",
			{ class: "fields" },
			field("Actor", h("strong", { class: "actor", id: "cmp-actor" }, str(view.actor))),
			field("Reason", h("span", { id: "cmp-reason-text", class: "cmp-reason-text" }, str(view.reason))),
			selectorParts(view.selector).map(([label, text]) => field(`Selector: ${label}`, h("span", { class: "mono", dataset: { selector: label } }, text))),
			field("Trace id", h("span", { class: "mono" }, str(view.traceId))),
			field("Created", timeCell(view.createdAt), " ", h("span", { class: "muted" }, fmtAgo(view.createdAt))),
			field("Updated", timeCell(view.updatedAt), " ", h("span", { class: "muted" }, fmtAgo(view.updatedAt))),
		),
	);
	body.appendChild(h("h3", null, "Progress"));
	body.appendChild(progressBlock(view.progress));
	body.appendChild(h("h3", null, "Tasks ", h("span", { class: "muted h3-note" }, "one moderate task per room")));
	body.appendChild(stepsTable(tasks));
	body.appendChild(h("h3", null, "Audit"));
	body.appendChild(cmpAuditTable(view.audit));
	body.appendChild(h("h3", null, "Trace ", h("span", { class: "muted h3-note" }, str(view.traceId))));
	body.appendChild(h("div", { id: "trace", class: "trace" }, h("span", { class: "muted" }, "loading…")));
	detail.traceJson = "";
}

// --- The new-compensation form: build a selector, preview it (dry run), confirm with a reason.

/** The last preview and the exact selector (as JSON) it was made for. */
const cmpForm = { preview: null, previewKey: null, busy: false };

const inputValue = (id) => /** @type {HTMLInputElement} */ ($(id)).value;

function updateNewButton() {
	$("cmp-new-open").hidden = isReadOnly() || ui.view !== "compensations";
}

function openNewCompensation() {
	if (isReadOnly()) return;
	closeDetail();
	ui.newCmp = true;
	writeHash();
	$("detail-empty").hidden = true;
	$("detail-body").hidden = true;
	$("cmp-new").hidden = false;
	refreshPreviewState();
	$("cmp-author").focus();
}

function hideNewForm() {
	$("cmp-new").hidden = true;
	closeCmpDialog();
}

function closeNewCompensation() {
	closeDetail();
}

/** `YYYY-MM-DDTHH:MM:SS` in local time, as a datetime-local input takes it. */
function toLocalInput(ms) {
	const d = new Date(ms);
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A datetime-local value as Unix ms (local time). The end of a range includes its whole
 * second, so "to 10:15:30" covers a message posted at 10:15:30.600.
 */
function fromLocalInput(value, end) {
	if (value === "") return undefined;
	const ms = new Date(value).getTime();
	if (!Number.isFinite(ms)) return null;
	return end && !/\.\d+$/.test(value) ? ms + 999 : ms;
}

/** The selector the form describes, or an error for what cannot even be sent. */
function readSelector() {
	const selector = {};
	const author = inputValue("cmp-author").trim();
	const room = inputValue("cmp-room").trim();
	const from = fromLocalInput(inputValue("cmp-from"), false);
	const to = fromLocalInput(inputValue("cmp-to"), true);
	const ids = [...new Set(inputValue("cmp-msgids").split(/[\s,]+/).filter((id) => id !== ""))];
	if (from === null || to === null) return { error: "The time range is not a valid date and time." };
	if (author !== "") selector.author = author;
	if (room !== "") selector.room = room;
	if (from !== undefined) selector.from = from;
	if (to !== undefined) selector.to = to;
	if (ids.length > 0) selector.msgIds = ids;
	return { selector, key: JSON.stringify(selector) };
}

function formError(text) {
	const box = $("cmp-form-error");
	box.textContent = text ?? "";
	box.hidden = !text;
}

/** Enables "Retract…" only when the shown preview was made for exactly the current inputs. */
function refreshPreviewState() {
	const built = readSelector();
	const current = cmpForm.preview !== null && built.key !== undefined && built.key === cmpForm.previewKey;
	const matches = current ? num(cmpForm.preview.messages) : 0;
	const submit = /** @type {HTMLButtonElement} */ ($("cmp-submit"));
	submit.disabled = cmpForm.busy || !current || matches === 0 || isReadOnly();
	const box = $("cmp-preview-box");
	box.classList.toggle("stale", cmpForm.preview !== null && !current);
	box.dataset.current = String(current);
	const note = $("cmp-preview-state");
	note.dataset.state = cmpForm.busy ? "busy" : cmpForm.preview === null ? "none" : current ? (matches === 0 ? "empty" : "current") : "stale";
	note.textContent = cmpForm.busy
		? "Previewing…"
		: cmpForm.preview === null
			? "Preview first: nothing changes until you confirm."
			: !current
				? "The form changed since this preview: preview again."
				: matches === 0
					? "Nothing matches: nothing to retract."
					: "The preview matches the form.";
}

function renderPreview() {
	const box = $("cmp-preview-box");
	clear(box);
	const p = cmpForm.preview;
	if (p === null) {
		box.hidden = true;
		return;
	}
	box.hidden = false;
	const rooms = (Array.isArray(p.rooms) ? p.rooms : []).filter((r) => r && typeof r === "object");
	const copyRooms = (Array.isArray(p.copyRooms) ? p.copyRooms : []).filter((r) => r && typeof r === "object");
	box.appendChild(h("h3", null, "Preview ", h("span", { class: "muted h3-note" }, "dry run · nothing changed yet")));
	box.appendChild(
		h(
			"div",
			{ class: "preview-summary" },
			h("span", { class: "preview-figure" }, h("span", { class: "big-number", id: "cmp-preview-messages" }, String(num(p.messages))), h("span", { class: "muted" }, " messages")),
			h("span", { class: "preview-figure" }, h("span", { class: "big-number", id: "cmp-preview-copies" }, String(num(p.copies))), h("span", { class: "muted" }, " cross-posted copies")),
			h("span", { class: "preview-figure" }, h("span", { class: "big-number", id: "cmp-preview-rooms-count" }, String(rooms.length)), h("span", { class: "muted" }, " rooms")),
		),
	);
	box.appendChild(h("p", { class: "muted tiny mono", id: "cmp-preview-selector" }, selectorText(p.selector)));
	const roomTable = h(
		"table",
		{ class: "grid", id: "cmp-preview-rooms" },
		h("thead", null, h("tr", null, ["Room", "Messages", "Copies elsewhere"].map((c) => h("th", { scope: "col" }, c)))),
	);
	const tbody = h("tbody");
	for (const r of rooms) {
		tbody.appendChild(
			h(
				"tr",
				{ dataset: { room: str(r.room), messages: num(r.messages), copies: num(r.copies) } },
				h("td", null, h("span", { class: "mono" }, str(r.room))),
				h("td", { class: "num-cell" }, String(num(r.messages))),
				h("td", { class: "num-cell" }, String(num(r.copies))),
			),
		);
	}
	if (rooms.length === 0) tbody.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: 3 }, "Nothing matches.")));
	roomTable.appendChild(tbody);
	box.appendChild(h("div", { class: "table-wrap" }, roomTable));
	if (copyRooms.length > 0) {
		box.appendChild(h("h3", null, "Copies live in"));
		const copyTable = h("table", { class: "grid", id: "cmp-preview-copy-rooms" }, h("thead", null, h("tr", null, ["Room", "Copies"].map((c) => h("th", { scope: "col" }, c)))));
		const copyBody = h("tbody");
		for (const r of copyRooms) {
			copyBody.appendChild(
				h("tr", { dataset: { room: str(r.room), copies: num(r.copies) } }, h("td", null, h("span", { class: "mono" }, str(r.room))), h("td", { class: "num-cell" }, String(num(r.copies)))),
			);
		}
		copyTable.appendChild(copyBody);
		box.appendChild(h("div", { class: "table-wrap" }, copyTable));
	}
}

async function runPreview() {
	if (isReadOnly() || cmpForm.busy) return;
	const built = readSelector();
	if (built.error) return formError(built.error);
	formError(null);
	cmpForm.busy = true;
	refreshPreviewState();
	const button = /** @type {HTMLButtonElement} */ ($("cmp-preview"));
	button.disabled = true;
	try {
		const data = await api("/v1/admin/compensations", { method: "POST", body: { selector: built.selector, action: "retract", dryRun: true } });
		cmpForm.preview = data;
		cmpForm.previewKey = built.key;
	} catch (error) {
		const auth = authMessage(error);
		if (auth !== null) return signOut(auth);
		cmpForm.preview = null;
		cmpForm.previewKey = null;
		formError(error instanceof ApiError && error.status === 400 ? `Refused: ${error.message}` : `Preview failed: ${error instanceof Error ? error.message : String(error)}`);
	} finally {
		cmpForm.busy = false;
		button.disabled = false;
		renderPreview();
		refreshPreviewState();
	}
}

function setRange(ms) {
	const now = Date.now();
	/** @type {HTMLInputElement} */ ($("cmp-from")).value = ms === null ? "" : toLocalInput(now - ms);
	/** @type {HTMLInputElement} */ ($("cmp-to")).value = ms === null ? "" : toLocalInput(now);
	refreshPreviewState();
}

// --- The confirm dialog

function closeCmpDialog() {
	const dialog = /** @type {HTMLDialogElement} */ ($("cmp-dialog"));
	if (dialog.open) dialog.close();
}

function cmpDialogError(text) {
	const box = $("cmp-dialog-error");
	box.textContent = text;
	box.hidden = false;
}

function openCmpDialog() {
	if (isReadOnly()) return;
	refreshPreviewState();
	if (/** @type {HTMLButtonElement} */ ($("cmp-submit")).disabled) return;
	const p = cmpForm.preview;
	const rooms = Array.isArray(p.rooms) ? p.rooms.length : 0;
	const copyRooms = Array.isArray(p.copyRooms) ? p.copyRooms.length : 0;
	$("cmp-dialog-title").textContent = `Retract ${num(p.messages)} message(s) and ${num(p.copies)} cross-posted copies?`;
	const summary = $("cmp-dialog-summary");
	clear(summary);
	append(summary, [
		h("strong", { id: "cmp-dialog-messages" }, String(num(p.messages))),
		` message(s) in ${rooms} room(s) and `,
		h("strong", { id: "cmp-dialog-copies" }, String(num(p.copies))),
		` cross-posted copies in ${copyRooms} other room(s) will be retracted with the reason “moderated”.`,
	]);
	$("cmp-dialog-selector").textContent = selectorText(p.selector);
	const reason = /** @type {HTMLTextAreaElement} */ ($("cmp-reason"));
	reason.value = "";
	$("cmp-reason-count").textContent = `0 / ${REASON_MAX}`;
	$("cmp-dialog-error").hidden = true;
	/** @type {HTMLButtonElement} */ ($("cmp-confirm")).disabled = false;
	const dialog = /** @type {HTMLDialogElement} */ ($("cmp-dialog"));
	if (!dialog.open) dialog.showModal();
	reason.focus();
}

async function submitCompensation() {
	if (cmpForm.busy) return;
	if (isReadOnly()) return closeCmpDialog();
	const reason = /** @type {HTMLTextAreaElement} */ ($("cmp-reason")).value.trim();
	const n = codePoints(reason);
	if (n < 1) return cmpDialogError("A reason is required: say why, for the audit log.");
	if (n > REASON_MAX) return cmpDialogError(`The reason is ${n} characters; the limit is ${REASON_MAX}.`);
	const built = readSelector();
	const previewed = cmpForm.preview;
	if (previewed === null || built.key === undefined || built.key !== cmpForm.previewKey) {
		return cmpDialogError("The form changed since the preview. Close this and preview again.");
	}
	const confirm = /** @type {HTMLButtonElement} */ ($("cmp-confirm"));
	cmpForm.busy = true;
	confirm.disabled = true;
	try {
		const created = await api("/v1/admin/compensations", { method: "POST", body: { selector: built.selector, action: "retract", reason } });
		closeCmpDialog();
		cmpForm.preview = null;
		cmpForm.previewKey = null;
		renderPreview();
		const matched = created.progress?.matched ?? {};
		const drift = num(matched.messages) !== num(previewed.messages) || num(matched.copies) !== num(previewed.copies);
		showBanner(
			`Compensation ${str(created.id)} started: ${num(matched.messages)} message(s) and ${num(matched.copies)} cross-posted cop${num(matched.copies) === 1 ? "y" : "ies"} to retract.` +
				(drift ? ` The selection changed since the preview (${num(previewed.messages)} / ${num(previewed.copies)}).` : ""),
			"ok",
			"Compensation",
		);
		setView("compensations");
		openCompensation(created.id, "", created);
		// The list is fed asynchronously: look again shortly so the new entry shows up.
		for (const delay of [1200, 3000]) setTimeout(() => polling && ui.view === "compensations" && loadList(), delay);
	} catch (error) {
		const auth = authMessage(error);
		if (auth !== null) return signOut(auth);
		if (error instanceof ApiError && error.status === 400) cmpDialogError(`Refused: ${error.message}`);
		else cmpDialogError(`Could not start the compensation: ${error instanceof Error ? error.message : String(error)}`);
	} finally {
		cmpForm.busy = false;
		confirm.disabled = false;
		refreshPreviewState();
	}
}

// ---------------------------------------------------------------------------------------------
// Operator actions: retry / skip / cancel with a reason

const dialogState = { task: null, action: "", busy: false };

function openActionDialog(task, action) {
	if (isReadOnly()) return;
	const dialog = /** @type {HTMLDialogElement} */ ($("action-dialog"));
	dialogState.task = task;
	dialogState.action = action;
	$("action-title").textContent = `${ACTION_LABEL[action]} ${str(task.kind)} task → ${str(task.room)}`;
	$("action-target").textContent = `${str(task.taskId)} · now ${str(task.state)} · ${ACTION_HELP[action]}`;
	const reason = /** @type {HTMLTextAreaElement} */ ($("action-reason"));
	reason.value = "";
	$("action-count").textContent = `0 / ${REASON_MAX}`;
	$("action-error").hidden = true;
	const submit = /** @type {HTMLButtonElement} */ ($("action-submit"));
	submit.textContent = ACTION_LABEL[action];
	submit.dataset.action = action;
	submit.disabled = false;
	if (!dialog.open) dialog.showModal();
	reason.focus();
}

function closeActionDialog() {
	const dialog = /** @type {HTMLDialogElement} */ ($("action-dialog"));
	if (dialog.open) dialog.close();
	dialogState.task = null;
}

function dialogError(text) {
	const error = $("action-error");
	error.textContent = text;
	error.hidden = false;
}

async function submitAction() {
	if (dialogState.busy || dialogState.task === null) return;
	if (isReadOnly()) return closeActionDialog();
	const reason = /** @type {HTMLTextAreaElement} */ ($("action-reason")).value.trim();
	const n = codePoints(reason);
	if (n < 1) return dialogError("A reason is required: say why, for the audit log.");
	if (n > REASON_MAX) return dialogError(`The reason is ${n} characters; the limit is ${REASON_MAX}.`);
	const task = dialogState.task;
	const action = dialogState.action;
	const submit = /** @type {HTMLButtonElement} */ ($("action-submit"));
	dialogState.busy = true;
	submit.disabled = true;
	try {
		const updated = await api(`/v1/admin/tasks/${encodeURIComponent(task.taskId)}/actions`, { method: "POST", body: { action, reason } });
		closeActionDialog();
		showBanner(`${ACTION_LABEL[action]}: task ${str(task.taskId)} is now ${str(updated.state)} (was ${str(task.state)}).`, "ok", "Action");
		afterAction();
	} catch (error) {
		const auth = authMessage(error);
		if (auth !== null) return signOut(auth);
		if (error instanceof ApiError && error.status === 409) dialogError(`Conflict: ${error.message}`);
		else if (error instanceof ApiError && error.status === 400) dialogError(`Refused: ${error.message}`);
		else dialogError(`${ACTION_LABEL[action]} failed: ${error instanceof Error ? error.message : String(error)}`);
		detail.sagaJson = "";
		refreshDetail();
	} finally {
		dialogState.busy = false;
		submit.disabled = false;
	}
}

/** After a change: redraw now, then a few quick follow-ups while the outbox picks the task up. */
function afterAction() {
	detail.sagaJson = "";
	refreshDetail();
	loadList();
	schedule(0);
	for (const delay of [600, 1500]) setTimeout(() => polling && detail.kind !== null && refreshDetail(), delay);
}

// ---------------------------------------------------------------------------------------------
// Wiring

function init() {
	readHash();
	applyReadOnly();

	$("signin-form").addEventListener("submit", (event) => {
		event.preventDefault();
		signIn(/** @type {HTMLTextAreaElement} */ ($("token")).value);
	});
	$("token").addEventListener("keydown", (event) => {
		if (event.key === "Enter" && !event.shiftKey) {
			event.preventDefault();
			signIn(/** @type {HTMLTextAreaElement} */ ($("token")).value);
		}
	});
	$("signout").addEventListener("click", () => signOut("Signed out."));
	$("banner-close").addEventListener("click", () => hideBanner());
	$("readonly").addEventListener("change", (event) => {
		if (forcedReadOnly) return applyReadOnly();
		sessionStorage.setItem(READONLY_KEY, /** @type {HTMLInputElement} */ (event.target).checked ? "1" : "0");
		applyReadOnly();
		if (isReadOnly()) closeActionDialog();
		detail.sagaJson = "";
		if (detail.kind !== null) refreshDetail();
	});

	for (const tab of document.querySelectorAll(".tabs [data-view]")) {
		tab.addEventListener("click", () => setView(tab.getAttribute("data-view") ?? "sagas"));
	}
	$("filters").addEventListener("submit", (event) => {
		event.preventDefault();
		const room = /** @type {HTMLInputElement} */ ($("filter-room")).value.trim();
		if (room !== "" && !ROOM_RE.test(room)) {
			showBanner(`"${room}" is not a room id (lowercase letters, digits, ".", "_", "-"; up to 64).`, "error", "Filter");
			return;
		}
		hideBanner("Filter");
		ui.state = /** @type {HTMLSelectElement} */ ($("filter-state")).value;
		ui.room = room;
		ui.kind = ui.view === "tasks" ? /** @type {HTMLSelectElement} */ ($("filter-kind")).value : "";
		writeHash();
		loadList();
	});
	$("filter-state").addEventListener("change", () => $("filters").requestSubmit());
	$("filter-kind").addEventListener("change", () => $("filters").requestSubmit());
	$("filter-clear").addEventListener("click", () => setView(ui.view));
	$("list-refresh").addEventListener("click", () => loadList());
	$("list-more").addEventListener("click", () => loadList(true));

	$("action-form").addEventListener("submit", (event) => {
		event.preventDefault();
		submitAction();
	});
	$("action-cancel").addEventListener("click", () => closeActionDialog());
	$("action-reason").addEventListener("input", (event) => {
		const n = codePoints(/** @type {HTMLTextAreaElement} */ (event.target).value.trim());
		const count = $("action-count");
		count.textContent = `${n} / ${REASON_MAX}`;
		count.classList.toggle("over", n > REASON_MAX);
	});
	$("action-dialog").addEventListener("close", () => {
		dialogState.task = null;
	});

	// Compensations: the form, its preview and the confirm dialog.
	$("cmp-new-open").addEventListener("click", () => openNewCompensation());
	$("cmp-new-close").addEventListener("click", () => closeNewCompensation());
	$("cmp-form").addEventListener("submit", (event) => {
		event.preventDefault();
		runPreview();
	});
	for (const id of ["cmp-author", "cmp-room", "cmp-from", "cmp-to", "cmp-msgids"]) {
		$(id).addEventListener("input", () => refreshPreviewState());
		$(id).addEventListener("change", () => refreshPreviewState());
	}
	$("cmp-msgids").addEventListener("keydown", (event) => {
		if (event.key === "Enter" && !event.shiftKey) {
			event.preventDefault();
			$("cmp-form").requestSubmit();
		}
	});
	$("cmp-last-hour").addEventListener("click", () => setRange(3_600_000));
	$("cmp-last-day").addEventListener("click", () => setRange(86_400_000));
	$("cmp-any-time").addEventListener("click", () => setRange(null));
	$("cmp-submit").addEventListener("click", () => openCmpDialog());
	$("cmp-dialog-form").addEventListener("submit", (event) => {
		event.preventDefault();
		submitCompensation();
	});
	$("cmp-dialog-cancel").addEventListener("click", () => closeCmpDialog());
	$("cmp-reason").addEventListener("input", (event) => {
		const n = codePoints(/** @type {HTMLTextAreaElement} */ (event.target).value.trim());
		const count = $("cmp-reason-count");
		count.textContent = `${n} / ${REASON_MAX}`;
		count.classList.toggle("over", n > REASON_MAX);
	});

	if (token) {
		// Reopen with the stored token; the first call tells whether it still works.
		startApp(null);
		schedule(0);
	} else {
		showSignIn();
	}
}

init();
