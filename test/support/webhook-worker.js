// A stand-in for the outside world in runtime tests: every outbound fetch of the Worker
// under test lands here. It records alert webhook posts and can be told to fail them.
let posts = [];
let failing = false;

export default {
	async fetch(request) {
		const url = new URL(request.url);
		if (url.pathname === "/__log") return Response.json(posts);
		if (url.pathname === "/__reset") {
			posts = [];
			failing = false;
			return Response.json({ ok: true });
		}
		if (url.pathname === "/__fail") {
			failing = (await request.json()).fail === true;
			return Response.json({ failing });
		}
		if (request.method === "POST") {
			const raw = await request.text();
			const headers = Object.fromEntries(request.headers);
			posts.push({ url: request.url, body: JSON.parse(raw), raw, headers, failed: failing });
			return failing ? new Response("down", { status: 503 }) : Response.json({ ok: true });
		}
		return new Response("not found", { status: 404 });
	},
};
