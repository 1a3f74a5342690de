import { describe, it } from "vitest";
import { accessAdmin, accessAuthSettings, accessConfigured, tokenGroups } from "../../src/access.ts";
import { accessTeamHost, listVar, readConfig } from "../../src/config.ts";
import { policySummary, policyTarget, roomOfPolicyTarget } from "../../src/ops/policy-audit.ts";
import { searchCandidates } from "../../src/ops/search.ts";

describe("the search box", () => {
	it.for([
		["4bf92f3577b34da6a3ce929d0e0e4736", ["trace", "room"]],
		["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ["trace", "room"]],
		["lobby~0123456789ab", ["saga"]],
		["lobby~0123456789ab.d.news", ["task"]],
		["cmp@0123456789ab.m.news", ["task"]],
		["cmp@0123456789ab", ["moderation"]],
		["12-0123456789", ["message", "room"]],
		["lobby/12-0123456789", ["message"]],
		["lobby 12-0123456789", ["message"]],
		["lobby", ["room"]],
		["  lobby  ", ["room"]],
		["", []],
		["NOT A THING!", []],
	] as const)("reads %j as %j", ([text, kinds], { expect }) => {
		expect(searchCandidates(text).map((c) => c.kind)).toEqual(kinds);
	});

	it("keeps the room of a room/msgId search", ({ expect }) => {
		expect(searchCandidates("lobby/12-0123456789")).toEqual([{ kind: "message", room: "lobby", msgId: "12-0123456789" }]);
	});
});

describe("Cloudflare Access settings", () => {
	it("derive the team's issuer and JWKS, and need both the team and the AUD", ({ expect }) => {
		expect(accessTeamHost("myteam")).toBe("myteam.cloudflareaccess.com");
		expect(accessTeamHost("https://MyTeam.cloudflareaccess.com/")).toBe("myteam.cloudflareaccess.com");
		const config = readConfig({
			ACCESS_TEAM_DOMAIN: "myteam",
			ACCESS_AUD: "aud-tag",
			ACCESS_ADMIN_EMAILS: "Ops@Example.com, second@example.com",
			ACCESS_ADMIN_GROUPS: "Parley Admins,sre",
		});
		expect(config.accessJwksUrl).toBe("https://myteam.cloudflareaccess.com/cdn-cgi/access/certs");
		expect(accessConfigured(config)).toBe(true);
		expect(accessConfigured(readConfig({ ACCESS_TEAM_DOMAIN: "myteam" }))).toBe(false);
		expect(accessAuthSettings(config)).toMatchObject({
			authSecret: "",
			authIssuer: "https://myteam.cloudflareaccess.com",
			authAudience: "aud-tag",
			authNameClaim: "email",
		});
		expect(readConfig({ ACCESS_TEAM_DOMAIN: "t", ACCESS_JWKS_URL: "http://127.0.0.1:9/certs" }).accessJwksUrl).toBe(
			"http://127.0.0.1:9/certs",
		);
		expect(config.accessAdminGroups).toEqual(["Parley Admins", "sre"]);
	});

	it("map a listed email or group to admin, and nothing else", ({ expect }) => {
		const admin = accessAdmin(listVar("ops@example.com"), ["Parley Admins"]);
		expect(admin({ email: "OPS@example.com" })).toBe(true);
		expect(admin({ email: "someone@example.com" })).toBe(false);
		expect(admin({ email: "x@example.com", groups: ["Parley Admins"] })).toBe(true);
		expect(admin({ email: "x@example.com", custom: { groups: ["Parley Admins"] } })).toBe(true);
		expect(admin({ email: "x@example.com", groups: "Parley Admins" })).toBe(true);
		expect(admin({ email: "x@example.com", groups: ["parley admins"] })).toBe(false);
		expect(accessAdmin([], [])({ email: "ops@example.com", groups: ["Parley Admins"] })).toBe(false);
		expect(tokenGroups({ groups: [1, "a"], custom: { groups: ["b"] } })).toEqual(["a", "b"]);
	});
});

describe("policy audit entries", () => {
	it("name their room and summarise the policy", ({ expect }) => {
		expect(roomOfPolicyTarget(policyTarget("lobby"))).toBe("lobby");
		expect(roomOfPolicyTarget("lobby~0123456789ab.d.x")).toBeUndefined();
		expect(policySummary({ readOnly: true, banGuests: true, banned: ["u1", "u2"] })).toBe("read-only; guests banned; banned: u1, u2");
		expect(policySummary({ readOnly: false, banned: [] })).toBe("writable; no bans");
	});
});

describe("the console's time charts", () => {
	it("compute failure rates, a round top and polylines with gaps", async ({ expect }) => {
		const { failureRates, niceMax, polylines } = await import("../../client/console/chart-path.ts");
		const minutes = [
			{ at: 0, messages: 1, attempts: 4, failures: 1 },
			{ at: 60_000, messages: 0, attempts: 0, failures: 0 },
			{ at: 120_000, messages: 3, attempts: 2, failures: 2 },
		];
		expect(failureRates(minutes)).toEqual([0.25, null, 1]);
		expect(niceMax([3, 7, null])).toBe(10);
		expect(niceMax([0.2], 1)).toBe(1);
		expect(niceMax([130])).toBe(200);
		expect(polylines([0, null, 10], 100, 50, 10)).toEqual(["0,50", "100,0"]);
		expect(polylines([0, 5, 10], 100, 50, 10)).toEqual(["0,50 50,25 100,0"]);
	});
});
