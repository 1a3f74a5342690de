/**
 * @module
 * The Alerts tab's "Send test alert": a sample alert through the real delivery path (signed
 * per Standard Webhooks when ALERT_WEBHOOK_SECRET is set), so an operator can check the
 * receiver before a real failure needs it.
 */
import { api, messageOf } from "../api.ts";
import { byId } from "../../dom.ts";
import { app, isReadOnly } from "../state.ts";
import type { TestAlertResult } from "../wire.ts";
import { showBanner } from "./banner.ts";
import { signOutIfRefused } from "./signin.ts";

export function updateAlertTestButton(): void {
	byId("alert-test").hidden = isReadOnly() || app.ui.view !== "alerts";
}

async function sendTestAlert(): Promise<void> {
	const button = byId("alert-test", HTMLButtonElement);
	button.disabled = true;
	try {
		const result = await api<TestAlertResult>("/v1/admin/alerts/test", { method: "POST", body: {} });
		const how = result.signed ? "signed (webhook-signature)" : "UNSIGNED: set ALERT_WEBHOOK_SECRET";
		if (result.sent)
			showBanner(
				`Test alert ${result.webhookId} delivered, ${how}; the receiver answered ${result.status ?? "OK"}.`,
				"ok",
				"Test alert",
			);
		else
			showBanner(`Test alert ${result.webhookId} not delivered (${how}): ${result.error ?? "unknown error"}.`, "error", "Test alert");
	} catch (error) {
		if (signOutIfRefused(error)) return;
		showBanner(`Test alert: ${messageOf(error)}`, "error", "Test alert");
	} finally {
		button.disabled = false;
	}
}

export function wireAlertTest(): void {
	byId("alert-test").addEventListener("click", () => void sendTestAlert());
}
