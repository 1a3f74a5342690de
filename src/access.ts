/**
 * @module
 * Sign-in through Cloudflare Access. With ACCESS_TEAM_DOMAIN and ACCESS_AUD set, a request
 * that carries Access's `Cf-Access-Jwt-Assertion` header (and no bearer token) is verified
 * by the same provider-token path as any OIDC token (src/auth.ts, src/jwks.ts): RS256 against
 * the team's JWKS at `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`, the issuer
 * pinned to the team's URL and the audience to the application's AUD tag. Who is an admin is
 * decided here: an email in ACCESS_ADMIN_EMAILS, or a group of ACCESS_ADMIN_GROUPS in the
 * token's `groups` claim (Access passes an identity provider's groups as a custom claim when
 * it is told to; see docs/operations.md).
 */
import { type AuthDeps, type AuthSettings, authenticate, type Identity } from "./auth.ts";
import type { Config } from "./config.ts";

export const ACCESS_HEADER = "Cf-Access-Jwt-Assertion";

export type AccessConfig = Pick<Config, "accessTeamDomain" | "accessAud" | "accessJwksUrl" | "accessAdminEmails" | "accessAdminGroups">;

/** Both halves are needed: a team without an AUD would take any Access application's tokens. */
export function accessConfigured(config: AccessConfig): boolean {
	return config.accessTeamDomain !== "" && config.accessAud !== "" && config.accessJwksUrl !== "";
}

/** The groups a token names: a `groups` claim, or one under `custom` (how Access passes IdP claims). */
export function tokenGroups(claims: Record<string, unknown>): string[] {
	const custom = claims.custom;
	const candidates = [
		claims.groups,
		typeof custom === "object" && custom !== null ? (custom as Record<string, unknown>).groups : undefined,
	];
	const groups: string[] = [];
	for (const candidate of candidates) {
		if (typeof candidate === "string") groups.push(candidate);
		else if (Array.isArray(candidate)) for (const entry of candidate) if (typeof entry === "string") groups.push(entry);
	}
	return groups;
}

/** Admin when the verified email is listed, or a listed group is among the token's groups. */
export function accessAdmin(emails: readonly string[], groups: readonly string[]): (claims: Record<string, unknown>) => boolean {
	return (claims) => {
		const email = typeof claims.email === "string" ? claims.email.trim().toLowerCase() : "";
		if (email !== "" && emails.includes(email)) return true;
		return groups.length > 0 && tokenGroups(claims).some((group) => groups.includes(group));
	};
}

/** The provider settings an Access assertion is held to. */
export function accessAuthSettings(config: AccessConfig): AuthSettings {
	return {
		// Only the JWKS path: an HS256 "assertion" is refused, whatever AUTH_SECRET is.
		authSecret: "",
		allowGuests: false,
		authJwksUrl: config.accessJwksUrl,
		authIssuer: `https://${config.accessTeamDomain}`,
		authAudience: config.accessAud,
		authNameClaim: "email",
		authAdmin: accessAdmin(config.accessAdminEmails, config.accessAdminGroups),
	};
}

export async function authenticateAccess(assertion: string, config: AccessConfig, deps: AuthDeps = {}): Promise<Identity> {
	return await authenticate({ token: assertion, guest: null }, accessAuthSettings(config), deps);
}
