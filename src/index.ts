/**
 * The Worker entry: the HTTP app, the queue consumers, and the Durable Object classes.
 */
import { createApp } from "./app.ts";
import { consumeDeadLetters, consumeOutbox, isDeadLetterQueue, type QueueBody } from "./queue.ts";
import { socketRoute, upgradeRoute } from "./upgrade.ts";

export { AuthorDirectory } from "../objects/author-directory.ts";
export { Control } from "../objects/control.ts";
export { Inbox } from "../objects/inbox.ts";
export { Moderation } from "../objects/moderation.ts";
export { OpsIndex } from "../objects/ops-index.ts";
export { Room } from "../objects/room.ts";

const app = createApp();

export default {
	async fetch(request, env, ctx) {
		// Socket upgrades skip the app: what their request holds is held as long as the socket.
		const route = socketRoute(request);
		return route === undefined ? await app.fetch(request, env, ctx) : await upgradeRoute(request, env, route);
	},
	async queue(batch, env) {
		if (isDeadLetterQueue(batch.queue)) await consumeDeadLetters(batch, env);
		else await consumeOutbox(batch, env);
	},
} satisfies ExportedHandler<Env, QueueBody>;
