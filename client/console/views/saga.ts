/**
 * @module
 * A saga's detail: its fields, the message (as literal text), a graph of the rooms it reached,
 * its steps and its trace.
 */
import { h, s } from "../../dom.ts";
import { clip, str } from "../format.ts";
import { stateClass } from "../vocab.ts";
import type { SagaDetail, TaskView } from "../wire.ts";
import { closeDetail, detailBody, reloadDetail } from "./detail.ts";
import { dateFields, detailHead, field, mono, traceSection } from "./parts.ts";
import { stepsTable } from "./steps.ts";

export function renderSaga(saga: SagaDetail): void {
	const body = detailBody();
	const targets = [...new Set(saga.steps.map((step) => step.room))];
	body.append(
		detailHead({
			title: "Saga",
			id: { text: saga.sagaId, elementId: "saga-id" },
			state: { value: saga.state, elementId: "saga-state" },
			refresh: reloadDetail,
			close: closeDetail,
		}),
		h(
			"dl",
			{ class: "fields" },
			field("Origin room", mono(saga.originRoom)),
			field("Targets", mono(targets.length > 0 ? targets.join(", ") : "—")),
			field("Message id", mono(saga.msgId)),
			field("Trace id", mono(saga.traceId)),
			dateFields(saga),
		),
		h("h3", null, "Message"),
		h("pre", { class: "message-text", id: "message-text" }, saga.text),
		h("h3", null, "Rooms"),
		sagaGraph(saga, targets),
		h("h3", null, "Steps"),
		stepsTable(saga.steps),
		...traceSection(saga.traceId),
	);
}

interface RoomSteps {
	deliver: TaskView | null;
	retract: TaskView | null;
}

/** Each target room's steps: its deliver and, once the saga compensates, its retract. */
function stepsByRoom(steps: readonly TaskView[]): Map<string, RoomSteps> {
	const map = new Map<string, RoomSteps>();
	for (const step of steps) {
		const entry = map.get(step.room) ?? { deliver: null, retract: null };
		if (step.kind === "retract") entry.retract = step;
		else entry.deliver = step;
		map.set(step.room, entry);
	}
	return map;
}

const W = 540;
const ROW_H = 52;
const NODE_W = 150;
const NODE_H = 28;

function node(x: number, y: number, label: string, cls: string): SVGGElement {
	return s(
		"g",
		{ class: `node ${cls}` },
		s("title", null, label),
		s("rect", { x, y: y - NODE_H / 2, width: NODE_W, height: NODE_H, rx: 5 }),
		s("text", { x: x + NODE_W / 2, y: y + 4 }, clip(label, 20)),
	);
}

/** The origin room on the left, one node per target on the right; an edge per step in its state's colour. */
function sagaGraph(saga: SagaDetail, targets: readonly string[]): HTMLDivElement {
	const byRoom = stepsByRoom(saga.steps);
	const rooms = targets.length > 0 ? targets : [...byRoom.keys()];
	const H = Math.max(90, rooms.length * ROW_H + 24);
	const ox = 10;
	const tx = W - NODE_W - 10;
	const oy = H / 2;
	const svg = s("svg", {
		viewBox: `0 0 ${W} ${H}`,
		class: "graph",
		role: "img",
		"aria-label": "Saga graph: origin room to target rooms",
		id: "saga-graph",
	});

	rooms.forEach((room, i) => {
		const y = 16 + ROW_H / 2 + i * ROW_H + (H - 24 - rooms.length * ROW_H) / 2;
		const entry = byRoom.get(room) ?? { deliver: null, retract: null };
		// Both edges of a room drawn side by side, slightly apart.
		const parts: Array<[kind: "deliver" | "retract", step: TaskView, offset: number]> = [];
		if (entry.deliver !== null) parts.push(["deliver", entry.deliver, entry.retract !== null ? -4 : 0]);
		if (entry.retract !== null) parts.push(["retract", entry.retract, 4]);
		for (const [kind, step, off] of parts) {
			const x1 = ox + NODE_W;
			const x2 = tx;
			const mid = (x1 + x2) / 2;
			const d = `M ${x1} ${oy + off} C ${mid} ${oy + off}, ${mid} ${y + off}, ${x2} ${y + off}`;
			const error = step.lastError !== null && step.lastError !== "" ? `, last error: ${step.lastError}` : "";
			svg.appendChild(
				s(
					"g",
					{
						class: `edge ${kind} st-${stateClass(step.state)}`,
						"data-room": room,
						"data-kind": kind,
						"data-state": str(step.state),
					},
					s("title", null, `${kind} → ${room}: ${str(step.state)}, ${step.attempts} attempt(s)${error}`),
					s("path", { d }),
					s("circle", { cx: x2 - 3, cy: y + off, r: 3 }),
				),
			);
		}
		const status = parts.map(([kind, step]) => `${kind} ${str(step.state)}`).join(" · ");
		const latest = entry.retract ?? entry.deliver;
		svg.appendChild(node(tx, y, room, `target st-${stateClass(latest?.state)}`));
		svg.appendChild(s("text", { x: tx + NODE_W, y: y - NODE_H / 2 - 3, class: "edge-label" }, status || "no step"));
	});
	svg.appendChild(node(ox, oy, str(saga.originRoom), "origin"));

	const present = [...new Set(saga.steps.map((step) => stateClass(step.state)))];
	const legend = h(
		"div",
		{ class: "legend" },
		h("span", { class: "legend-item" }, h("span", { class: "swatch solid" }), "deliver"),
		h("span", { class: "legend-item" }, h("span", { class: "swatch dashed" }), "retract"),
		present.map((state) => h("span", { class: "legend-item" }, h("span", { class: `swatch st-${state}` }), state)),
	);
	return h("div", { class: "graph-wrap" }, svg, legend);
}
