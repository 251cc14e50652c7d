/**
 * `ringfence token create|list|revoke`: the REST API's bearer tokens. `create` is also the
 * bootstrap: the first admin token comes from here, printed once (only its hash is stored).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { checkTokenName, issueToken, parseRole, publicToken } from "../api/api-tokens.js";
import { RingfenceError } from "../errors.js";
import { openStore, type ApiRole } from "../store/index.js";
import { dbOption } from "./main.js";

/** The actor of the audit entries this command writes. */
const ACTOR = "ringfence token";

function parseExpiry(text: string): string {
  const ms = Date.parse(text);
  // An explicit zone: a bare local time would mean something else on the server's clock.
  if (!/(Z|[+-]\d\d:\d\d)$/i.test(text.trim()) || Number.isNaN(ms))
    throw new InvalidArgumentError(
      `"${text}" is not an ISO date-time with a zone (e.g. 2026-12-31T00:00:00Z)`,
    );
  return new Date(ms).toISOString();
}

interface CreateOptions {
  name: string;
  role: string;
  expires?: string;
  db: string;
}

async function createCommand(options: CreateOptions): Promise<void> {
  checkTokenName(options.name);
  const role: ApiRole = parseRole(options.role);
  if (options.expires !== undefined && Date.parse(options.expires) <= Date.now())
    throw new RingfenceError("RINGFENCE_USAGE", `--expires ${options.expires} is in the past`);
  const store = await openStore(options.db);
  try {
    const { token, record } = await issueToken(store, {
      name: options.name,
      role,
      expiresAt: options.expires ?? null,
    });
    await store.appendAuditEntries([
      {
        actor: ACTOR,
        kind: "token-create",
        subject: `token:${record.name}`,
        payload: { role: record.role, expiresAt: record.expiresAt },
      },
    ]);
    // The token alone on stdout (scripts capture it); the rest on stderr.
    process.stdout.write(`${token}\n`);
    process.stderr.write(
      `ringfence: token "${record.name}" (${record.role}${record.expiresAt ? `, expires ${record.expiresAt}` : ""}) created; it is shown only this once\n`,
    );
  } finally {
    await store.close();
  }
}

async function listCommand(options: { db: string; json?: boolean }): Promise<void> {
  const store = await openStore(options.db);
  try {
    const tokens = (await store.listApiTokens()).map(publicToken);
    if (options.json) {
      process.stdout.write(JSON.stringify(tokens, null, 2) + "\n");
      return;
    }
    const now = Date.now();
    for (const t of tokens) {
      const state =
        t.revokedAt !== null
          ? `revoked ${t.revokedAt}`
          : t.expiresAt !== null && Date.parse(t.expiresAt) <= now
            ? `expired ${t.expiresAt}`
            : t.expiresAt !== null
              ? `expires ${t.expiresAt}`
              : "active";
      process.stdout.write(`${t.name}\t${t.role}\tcreated ${t.createdAt}\t${state}\n`);
    }
  } finally {
    await store.close();
  }
}

async function revokeCommand(name: string, options: { db: string }): Promise<void> {
  const store = await openStore(options.db);
  try {
    const existing = (await store.listApiTokens()).find((t) => t.name === name);
    if (existing === undefined)
      throw new RingfenceError("RINGFENCE_USAGE", `no token named "${name}"`, {
        hint: "ringfence token list",
      });
    const revoked = await store.revokeApiToken(name, new Date().toISOString());
    if (existing.revokedAt === null)
      await store.appendAuditEntries([
        { actor: ACTOR, kind: "token-revoke", subject: `token:${name}`, payload: {} },
      ]);
    process.stderr.write(`ringfence: token "${name}" revoked at ${revoked?.revokedAt ?? ""}\n`);
  } finally {
    await store.close();
  }
}

export function registerTokenCommand(program: Command): void {
  const token = program
    .command("token")
    .description("manage the REST API's bearer tokens (roles: viewer, operator, admin)");
  token
    .command("create")
    .description("create a token and print it once (only its SHA-256 is stored)")
    .requiredOption("--name <name>", "unique name; the actor the audit trail records")
    .addOption(
      new Option("--role <role>", "viewer reads; operator changes state; admin also manages")
        .choices(["viewer", "operator", "admin"])
        .makeOptionMandatory(),
    )
    .option("--expires <date-time>", "expiry, ISO date-time with a zone", parseExpiry)
    .addOption(dbOption())
    .action(createCommand);
  token
    .command("list")
    .description("list tokens (never their secrets)")
    .addOption(dbOption())
    .option("--json", "print JSON")
    .action(listCommand);
  token
    .command("revoke")
    .description("revoke a token by name (its row stays for the audit trail)")
    .argument("<name>", "the token's name")
    .addOption(dbOption())
    .action(revokeCommand);
}
