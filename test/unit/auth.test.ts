import { sign } from "hono/jwt";
import { describe, it } from "vitest";
import { authenticate, canAccessRoom, type Identity } from "../../src/auth.ts";
import { ParleyError } from "../../src/errors.ts";

const secret = "unit-secret";
const settings = { authSecret: secret, allowGuests: false };
const now = () => Math.floor(Date.now() / 1000);

function base64url(value: object): string {
	return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

async function refusal(promise: Promise<Identity>): Promise<string> {
	try {
		await promise;
	} catch (error) {
		if (error instanceof ParleyError) return error.code;
		throw error;
	}
	return "accepted";
}

describe("token checks", () => {
	it("accepts a valid HS256 token and reads its claims", async ({ expect }) => {
		const exp = now() + 60;
		const token = await sign({ sub: "u1", name: "Ann", exp, rooms: ["a", "team-*"], role: "admin" }, secret, "HS256");
		const identity = await authenticate({ token, guest: null }, settings);
		// `exp` is kept so an open socket can be closed when the token runs out.
		expect(identity).toEqual({ id: "u1", name: "Ann", admin: true, rooms: ["a", "team-*"], guest: false, exp });
	});

	it.for<[string, () => Promise<string>]>([
		["a bad signature", async () => await sign({ sub: "u", name: "n", exp: now() + 60 }, "other", "HS256")],
		["an expired token", async () => await sign({ sub: "u", name: "n", exp: now() - 1 }, secret, "HS256")],
		["no sub", async () => await sign({ name: "n", exp: now() + 60 }, secret, "HS256")],
		["no name", async () => await sign({ sub: "u", exp: now() + 60 }, secret, "HS256")],
		["no exp", async () => await sign({ sub: "u", name: "n" }, secret, "HS256")],
		["a 65-char sub", async () => await sign({ sub: "u".repeat(65), name: "n", exp: now() + 60 }, secret, "HS256")],
		["a guest: sub", async () => await sign({ sub: "guest:bob", name: "n", exp: now() + 60 }, secret, "HS256")],
		["a malformed rooms claim", async () => await sign({ sub: "u", name: "n", exp: now() + 60, rooms: "a" }, secret, "HS256")],
		["a bad room in rooms", async () => await sign({ sub: "u", name: "n", exp: now() + 60, rooms: ["A B"] }, secret, "HS256")],
		[
			"a rooms claim over 128 entries",
			async () =>
				await sign(
					{ sub: "u", name: "n", exp: now() + 60, rooms: Array.from({ length: 129 }, (_, i) => `${"p".repeat(60)}${i}*`) },
					secret,
					"HS256",
				),
		],
		["a sub with a control character", async () => await sign({ sub: "u\u001b[2J", name: "n", exp: now() + 60 }, secret, "HS256")],
		["a name with a lone surrogate", async () => await sign({ sub: "u", name: "a\ud800", exp: now() + 60 }, secret, "HS256")],
		["HS512", async () => await sign({ sub: "u", name: "n", exp: now() + 60 }, secret, "HS512")],
		["alg none", async () => `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: "u", name: "n", exp: now() + 60 })}.`],
		["garbage", async () => "not.a.token"],
		["two segments", async () => "abc.def"],
	])("refuses %s with unauthorized", async ([, make], { expect }) => {
		expect(await refusal(authenticate({ token: await make(), guest: null }, settings))).toBe("unauthorized");
	});

	it("refuses everything when no secret is configured", async ({ expect }) => {
		const token = await sign({ sub: "u", name: "n", exp: now() + 60 }, "", "HS256").catch(() => "x.y.z");
		expect(await refusal(authenticate({ token, guest: null }, { authSecret: "", allowGuests: false }))).toBe("unauthorized");
	});

	it("refuses a request with no credentials", async ({ expect }) => {
		expect(await refusal(authenticate({ token: null, guest: null }, settings))).toBe("unauthorized");
	});
});

describe("display names", () => {
	it.for<[string, string]>([
		["Ann", "Ann"],
		["  Ann \n  Lee ", "Ann Lee"],
		["evil\u202eTXT.exe", "evil TXT.exe"],
		["\u001b]0;pwned\u0007x", "]0;pwned x"],
		["nul\u0000byte", "nul byte"],
		["\u200b\u200b\u2060", "u1"],
		["\u3164", "u1"],
		["   ", "u1"],
		["李小龍 😀", "李小龍 😀"],
	])("shows the name claim %j as %j", async ([name, shown], { expect }) => {
		const token = await sign({ sub: "u1", name, exp: now() + 60 }, secret, "HS256");
		expect((await authenticate({ token, guest: null }, settings)).name).toBe(shown);
	});

	it("keeps a rooms claim of 128 entries", async ({ expect }) => {
		const rooms = Array.from({ length: 128 }, (_, i) => `${"p".repeat(60)}${i}*`);
		const token = await sign({ sub: "u", name: "n", exp: now() + 60, rooms }, secret, "HS256");
		expect((await authenticate({ token, guest: null }, settings)).rooms).toHaveLength(128);
	});
});

describe("guests", () => {
	it("are refused unless guest mode is on", async ({ expect }) => {
		expect(await refusal(authenticate({ token: null, guest: "bob" }, settings))).toBe("unauthorized");
		const identity = await authenticate({ token: null, guest: "bob" }, { ...settings, allowGuests: true });
		expect(identity).toEqual({ id: "guest:bob", name: "bob", admin: false, rooms: null, guest: true });
	});

	it.for(["", "a b", "x".repeat(33), "ü", "a/b"])("refuses the guest name %j", async (name, { expect }) => {
		expect(await refusal(authenticate({ token: null, guest: name }, { ...settings, allowGuests: true }))).toBe("unauthorized");
	});
});

describe("room access", () => {
	const who = (rooms: string[] | null): Identity => ({ id: "u", name: "u", admin: false, rooms, guest: false });

	it("grants every room without a rooms claim", ({ expect }) => {
		expect(canAccessRoom(who(null), "anything")).toBe(true);
	});

	it("matches exact ids and prefixes ending in *", ({ expect }) => {
		const identity = who(["lobby", "team-*"]);
		expect(canAccessRoom(identity, "lobby")).toBe(true);
		expect(canAccessRoom(identity, "team-red")).toBe(true);
		expect(canAccessRoom(identity, "lobby2")).toBe(false);
		expect(canAccessRoom(identity, "tea")).toBe(false);
		expect(canAccessRoom(who([]), "lobby")).toBe(false);
	});
});
