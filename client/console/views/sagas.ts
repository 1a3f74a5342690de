/**
 * @module
 * The Sagas list: cross-posts, newest first, filtered by state and room on the server.
 */
import { api } from "../api.ts";
import { h } from "../../dom.ts";
import { str } from "../format.ts";
import { app } from "../state.ts";
import { SAGA_STATES } from "../vocab.ts";
import type { SagaPage, SagaSummary } from "../wire.ts";
import { openSaga } from "./detail.ts";
import { type ListView, listView, pageQuery } from "./list.ts";
import { badge, idCell, mono, timeCell, relTime } from "./parts.ts";

export const sagasList: ListView = listView<SagaSummary>({
	name: "Sagas",
	noun: "sagas",
	filterLabel: "State",
	states: SAGA_STATES,
	serverFilters: true,
	roomFilter: true,
	kindFilter: false,
	columns: ["Created", "State", "Origin → targets", "Message", "Saga", "Updated"],
	async fetch(q) {
		const page = await api<SagaPage>(`/v1/admin/sagas${pageQuery(q)}`);
		return { items: page.sagas, cursor: page.cursor };
	},
	cells: (saga) => [
		timeCell(saga.createdAt),
		badge(saga.state),
		h("span", { class: "rooms" }, mono(saga.originRoom), " → ", mono(saga.targets.length > 0 ? saga.targets.join(", ") : "—")),
		idCell(saga.msgId),
		idCell(saga.sagaId),
		relTime(saga.updatedAt),
	],
	data: (saga) => ({ sagaId: saga.sagaId, state: str(saga.state) }),
	selected: (saga) => saga.sagaId === app.ui.saga,
	open: (saga) => openSaga(saga.sagaId, ""),
});
