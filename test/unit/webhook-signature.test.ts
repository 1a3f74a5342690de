import { createHmac } from "node:crypto";
import { describe, it } from "vitest";
import { alertRequestHeaders, postAlert } from "../../src/ops/alert-delivery.ts";
import { secretKeyBytes, signWebhook, verifyWebhook, webhookHeaders } from "../../src/webhook-signature.ts";

// The Standard Webhooks specification's own example (spec/standard-webhooks.md, "Signature scheme").
const SPEC = {
	secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
	timestamp: 1614265330,
	body: '{"test": 2432232314}',
	signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

/** The reference algorithm, written out with Node's crypto rather than Web Crypto. */
function reference(secret: string, id: string, timestamp: number, body: string): string {
	const key = Buffer.from(secret.slice("whsec_".length), "base64");
	return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

describe("Standard Webhooks signatures", () => {
	it("match the specification's test vector", async ({ expect }) => {
		expect(await signWebhook(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
		expect(reference(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
	});

	it("match the reference algorithm on other messages, unicode bodies included", async ({ expect }) => {
		const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
		for (const body of ["{}", '{"text":"héllo ✓ 🙂"}', JSON.stringify({ kind: "task_failed", n: 1 })]) {
			const id = `alert-${crypto.randomUUID()}`;
			expect(await signWebhook(secret, id, 1_700_000_000, body)).toBe(reference(secret, id, 1_700_000_000, body));
		}
	});

	it("refuse secrets that are not whsec_ and base64 of at least 16 bytes", async ({ expect }) => {
		expect(secretKeyBytes("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).toBeUndefined();
		expect(secretKeyBytes("whsec_not base64!")).toBeUndefined();
		expect(secretKeyBytes("whsec_AAAA")).toBeUndefined();
		expect(secretKeyBytes(SPEC.secret)?.length).toBe(24);
		await expect(signWebhook("plain", "id", 1, "{}")).rejects.toThrow(/whsec_/);
	});

	it("verify as a receiver would: tolerance, tampering, several signatures", async ({ expect }) => {
		const headers = await webhookHeaders(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body);
		expect(headers).toEqual({
			"webhook-id": SPEC.id,
			"webhook-timestamp": String(SPEC.timestamp),
			"webhook-signature": SPEC.signature,
		});
		expect(await verifyWebhook(SPEC.secret, headers, SPEC.body, SPEC.timestamp + 10)).toEqual({ ok: true });
		expect(await verifyWebhook(SPEC.secret, headers, `${SPEC.body} `, SPEC.timestamp)).toEqual({ ok: false, reason: "no_match" });
		expect(await verifyWebhook(SPEC.secret, headers, SPEC.body, SPEC.timestamp + 301)).toEqual({ ok: false, reason: "stale" });
		expect(await verifyWebhook(SPEC.secret, { ...headers, "webhook-id": "other" }, SPEC.body, SPEC.timestamp)).toEqual({
			ok: false,
			reason: "no_match",
		});
		expect(
			await verifyWebhook(SPEC.secret, { ...headers, "webhook-signature": `v1,bogus ${SPEC.signature}` }, SPEC.body, SPEC.timestamp),
		).toEqual({ ok: true });
		expect(
			await verifyWebhook(
				SPEC.secret,
				{ ...headers, "webhook-signature": SPEC.signature.replace("v1", "v2") },
				SPEC.body,
				SPEC.timestamp,
			),
		).toEqual({ ok: false, reason: "no_match" });
		expect(await verifyWebhook(SPEC.secret, { "webhook-id": SPEC.id }, SPEC.body, SPEC.timestamp)).toEqual({
			ok: false,
			reason: "missing_headers",
		});
	});
});

describe("alert deliveries", () => {
	const post = {
		url: "https://hooks.example/parley",
		secret: SPEC.secret,
		id: "t~aaaaaaaaaaaa.d.b#task_failed#1",
		body: { traceId: "a".repeat(32), kind: "task_failed" },
		nowMs: 1_700_000_000_500,
	};

	it("carry the three signature headers over the exact body sent, and the alert's traceparent", async ({ expect }) => {
		const seen: Array<{ headers: Headers; body: string }> = [];
		const result = await postAlert(post, async (_url, init) => {
			seen.push({ headers: new Headers(init?.headers), body: String(init?.body) });
			return new Response("ok");
		});
		expect(result).toEqual({ ok: true, status: 200, signed: true });
		const [request] = seen;
		if (request === undefined) throw new Error("no request");
		expect(request.headers.get("webhook-id")).toBe(post.id);
		expect(request.headers.get("webhook-timestamp")).toBe("1700000000");
		expect(request.headers.get("webhook-signature")).toBe(reference(SPEC.secret, post.id, 1_700_000_000, request.body));
		expect(request.headers.get("traceparent")).toMatch(new RegExp(`^00-${"a".repeat(32)}-[0-9a-f]{16}-01$`));
	});

	it("go unsigned without a secret, and fail visibly with a malformed one or a refusing receiver", async ({ expect }) => {
		const unsigned = await alertRequestHeaders({ ...post, secret: "" }, "{}");
		expect(Object.keys(unsigned).filter((k) => k.startsWith("webhook-"))).toEqual([]);
		expect(await postAlert({ ...post, secret: "nope" }, async () => new Response("ok"))).toMatchObject({
			ok: false,
			error: expect.stringMatching(/ALERT_WEBHOOK_SECRET/),
		});
		expect(await postAlert(post, async () => new Response("down", { status: 503 }))).toEqual({
			ok: false,
			error: "webhook answered 503",
			status: 503,
			signed: true,
		});
	});
});
