/**
 * `ringfence serve`: the REST API (src/api) on loopback by default. Binding anything else needs
 * an explicit `--host` on the command line: a host from the environment alone is refused when it
 * is not loopback, so that a stray RINGFENCE_API_HOST never exposes the API (plain HTTP: tokens
 * would cross the network in clear).
 */
import { isIP } from "node:net";
import { Command, Option } from "commander";
import { RingfenceError } from "../errors.js";
import { openStore } from "../store/index.js";
import { collect, dbOption, parseCount } from "./main.js";

interface ServeOptions {
  port: number;
  host: string;
  db: string;
  scope?: string;
  policy?: string;
  site?: string;
  advisories: string[];
  rateLimit: number;
  labDir?: string;
  log?: boolean;
}

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  const family = isIP(host);
  if (family === 4) return host.startsWith("127.");
  if (family === 6) return host === "::1" || /^::ffff:127\./i.test(host);
  return false;
}

async function serveCommand(options: ServeOptions, command: Command): Promise<void> {
  const explicit = command.getOptionValueSource("host") === "cli";
  if (!isLoopbackHost(options.host) && !explicit)
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `refusing to serve on ${options.host}, which is not loopback, without an explicit --host`,
      { hint: `pass --host ${options.host} on the command line if you mean it` },
    );
  const store = await openStore(options.db);
  // Fastify and the API load only for `serve` (CLI start-up time for every other command).
  const { buildApiServer } = await import("../api/index.js");
  const server = await buildApiServer({
    store,
    ...(options.scope === undefined ? {} : { scopeFile: options.scope }),
    ...(options.policy === undefined ? {} : { policyFile: options.policy }),
    ...(options.site === undefined ? {} : { siteFile: options.site }),
    advisoryDirs: options.advisories,
    ...(options.labDir === undefined ? {} : { labStateDir: options.labDir }),
    rateLimit: { max: options.rateLimit, windowMs: 60_000 },
    logger: options.log === true,
  });
  let address: string;
  try {
    address = await server.app.listen({ port: options.port, host: options.host });
  } catch (error) {
    await server.close();
    await store.close();
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`,
    );
  }
  if (!isLoopbackHost(options.host))
    process.stderr.write(
      "ringfence: warning: the API is reachable beyond this machine over plain HTTP; put TLS in front of it\n",
    );
  process.stderr.write(
    `ringfence: API listening on ${address} (OpenAPI at ${address}/openapi.json)\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stderr.write(`ringfence: ${signal}: stopping; running scans are interrupted\n`);
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await server.close();
  await store.close();
}

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("serve the REST API (OpenAPI document at /openapi.json); loopback by default")
    .option("--port <n>", "TCP port (0: any free port)", parseCount(0, 65535), 7070)
    .addOption(
      new Option("--host <address>", "address to bind; non-loopback only when given here")
        .env("RINGFENCE_API_HOST")
        .default("127.0.0.1"),
    )
    .addOption(dbOption())
    .option("--scope <file>", "authorized scope of POST /scans (YAML); default: the lab's range")
    .option("--policy <file>", "risk policy for POST /assessments")
    .option("--site <file>", "site file for POST /assessments")
    .option("--advisories <dir>", "extra advisory directory; repeatable", collect, [])
    .option(
      "--rate-limit <n>",
      "requests per token (or per client without one) per minute",
      parseCount(1, 1_000_000),
      600,
    )
    .addOption(
      new Option("--lab-dir <dir>", "lab state directory (scans with lab: true)").env(
        "RINGFENCE_LAB_DIR",
      ),
    )
    .option("--log", "log requests (JSON lines on stdout)")
    .action(serveCommand);
}
