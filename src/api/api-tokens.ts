/**
 * Bearer tokens (RFC 6750): 32 random bytes, base64url, with a "rft_" prefix so that a leaked
 * token is recognisable by secret scanners. Only the SHA-256 of the token is stored: a token has
 * 256 bits of entropy, so a plain hash (no salt, no slow KDF) cannot be reversed by guessing, and
 * the lookup by hash stays an index seek.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { RingfenceError } from "../errors.js";
import { API_ROLES, type ApiRole, type ApiTokenRecord, type Store } from "../store/index.js";

export const TOKEN_PREFIX = "rft_";
const TOKEN_PATTERN = /^rft_[A-Za-z0-9_-]{43}$/;
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** The rank of a role: a token may do what its role and every lower role may. */
export function roleRank(role: ApiRole): number {
  return API_ROLES.indexOf(role);
}

export function parseRole(text: string): ApiRole {
  const role = API_ROLES.find((r) => r === text);
  if (role === undefined)
    throw new RingfenceError("RINGFENCE_USAGE", `"${text}" is not a role`, {
      hint: `roles: ${API_ROLES.join(", ")}`,
    });
  return role;
}

export function checkTokenName(name: string): string {
  if (!TOKEN_NAME_PATTERN.test(name))
    throw new RingfenceError("RINGFENCE_USAGE", `"${name}" is not a valid token name`, {
      hint: "1-64 characters: letters, digits, . _ @ - (not first)",
    });
  return name;
}

/** Stores a new token and returns it with its text, which is never shown again. */
export async function issueToken(
  store: Store,
  input: { name: string; role: ApiRole; expiresAt: string | null },
): Promise<{ token: string; record: ApiTokenRecord }> {
  checkTokenName(input.name);
  const token = generateToken();
  const record = await store.createApiToken({
    name: input.name,
    role: input.role,
    tokenHash: hashToken(token),
    expiresAt: input.expiresAt,
  });
  return { token, record };
}

export type TokenCheck =
  | { ok: true; token: ApiTokenRecord }
  | { ok: false; reason: "malformed" | "unknown" | "revoked" | "expired" };

/**
 * Finds the token a request presents. The lookup is by hash, and the stored hash is compared
 * again in constant time: an attacker who can time the index seek learns only about hashes of
 * their own guesses, never a prefix of a real token.
 */
export async function verifyToken(store: Store, token: string, now: Date): Promise<TokenCheck> {
  if (!TOKEN_PATTERN.test(token)) return { ok: false, reason: "malformed" };
  const hash = hashToken(token);
  const record = await store.apiTokenByHash(hash);
  if (record === undefined) return { ok: false, reason: "unknown" };
  const a = Buffer.from(hash, "hex");
  const b = Buffer.from(record.tokenHash, "hex");
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: "unknown" };
  if (record.revokedAt !== null) return { ok: false, reason: "revoked" };
  if (record.expiresAt !== null && Date.parse(record.expiresAt) <= now.getTime())
    return { ok: false, reason: "expired" };
  return { ok: true, token: record };
}

/**
 * The actor the audit trail records for a token's requests: "api:<token name>" (names are
 * unique and never reused, so the entry stays attributable after a revocation).
 */
export function apiActor(token: ApiTokenRecord): string {
  return `api:${token.name}`;
}

/** The token's record as shown to users: never its hash. */
export function publicToken(record: ApiTokenRecord) {
  return {
    id: record.id,
    name: record.name,
    role: record.role,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    revokedAt: record.revokedAt,
  };
}
