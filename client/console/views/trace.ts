/**
 * @module
 * A trace: every span of a message's cross-room work in time order, drawn into the detail's
 * `#trace` box; and the detail for a bare trace (an alert or audit entry that names no saga).
 */
import { api, ApiError, messageOf } from "../api.ts";
import { clear, h } from "../../dom.ts";
import { fmtDuration, isNum, str } from "../format.ts";
import { app, type TraceSource } from "../state.ts";
import type { Trace } from "../wire.ts";
import { closeDetail, detailBody } from "./detail.ts";
import { detailHead, field, mono, timeCell, traceSection } from "./parts.ts";
import { signOutIfRefused } from "./signin.ts";

/** Span events that mean something went wrong, drawn in red. */
const BAD_EVENT = /fail|error|dead|refus|alert/i;

export function renderTraceOnly(source: TraceSource): void {
	const body = detailBody();
	body.appendChild(detailHead({ title: "Trace", id: { text: source.traceId }, close: closeDetail }));
	if (source.fields.length > 0)
		body.appendChild(
			h(
				"dl",
				{ class: "fields" },
				source.fields.map(([label, value]) => field(label, mono(value))),
			),
		);
	body.append(...traceSection(null));
}

/** Fetches a trace and draws it into `#trace`, unless the detail changed or the trace did not. */
export async function refreshTrace(traceId: string, generation: number): Promise<void> {
	let trace: Trace | undefined;
	let failure: unknown;
	try {
		trace = await api<Trace>(`/v1/admin/traces/${encodeURIComponent(traceId)}`);
	} catch (error) {
		if (signOutIfRefused(error)) return;
		failure = error;
	}
	if (generation !== app.detail.generation) return;
	const box = document.getElementById("trace");
	if (box === null) return;
	const json = trace === undefined ? `error:${messageOf(failure)}` : JSON.stringify(trace);
	if (json === app.detail.traceDrawn) return;
	app.detail.traceDrawn = json;
	clear(box);
	if (trace === undefined) {
		const notFound = failure instanceof ApiError && failure.status === 404;
		box.appendChild(
			h(
				"div",
				{ class: "inline-error" },
				notFound ? "No trace recorded for this id." : `Could not load the trace: ${messageOf(failure)}`,
			),
		);
		return;
	}
	if (trace.spans.length === 0) {
		box.appendChild(h("p", { class: "muted" }, "No spans yet."));
		return;
	}
	const first = trace.spans[0]?.at ?? 0;
	box.appendChild(
		h(
			"ol",
			{ class: "timeline", id: "trace-spans" },
			trace.spans.map((span) =>
				h(
					"li",
					{
						class: BAD_EVENT.test(span.event) ? "span bad" : "span",
						dataset: { event: str(span.event), component: str(span.component) },
					},
					h("span", { class: "span-offset mono" }, isNum(span.at) ? `+${fmtDuration(span.at - first)}` : ""),
					h("span", { class: "span-time muted" }, timeCell(span.at)),
					h("span", { class: "span-component" }, str(span.component)),
					h("span", { class: "span-room mono" }, span.room ?? span.moderation ?? ""),
					h("span", { class: "span-event" }, str(span.event)),
					h("span", { class: "span-detail", title: span.detail ?? null }, span.detail ?? ""),
				),
			),
		),
	);
}
