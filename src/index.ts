/**
 * The Worker entry: the HTTP app, and the Durable Object classes the runtime binds.
 */
import { createApp } from "./app.ts";

export { Room } from "../objects/room.ts";

const app = createApp();

export default {
	fetch: app.fetch,
} satisfies ExportedHandler<Env>;
