/**
 * @module
 * A raw WebSocket upgrade request, to see how a refused upgrade is answered: the contract
 * says it is an HTTP error response, never an accepted socket that closes afterwards.
 */
import { request } from "node:http";

export type UpgradeResult = { upgraded: true } | { upgraded: false; status: number; body: unknown };

export async function tryUpgrade(url: string, timeoutMs = 10_000): Promise<UpgradeResult> {
	return await new Promise((resolve, reject) => {
		const req = request(url, {
			headers: {
				Connection: "Upgrade",
				Upgrade: "websocket",
				"Sec-WebSocket-Version": "13",
				"Sec-WebSocket-Key": Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64"),
			},
			timeout: timeoutMs,
		});
		req.on("upgrade", (_response, socket) => {
			socket.destroy();
			resolve({ upgraded: true });
		});
		req.on("response", (response) => {
			let text = "";
			response.setEncoding("utf8");
			response.on("data", (chunk: string) => (text += chunk));
			response.on("end", () => {
				let body: unknown;
				try {
					body = JSON.parse(text) as unknown;
				} catch {
					body = undefined;
				}
				resolve({ upgraded: false, status: response.statusCode ?? 0, body });
			});
		});
		req.on("timeout", () => req.destroy(new Error(`upgrade to ${url} timed out`)));
		req.on("error", reject);
		req.end();
	});
}
