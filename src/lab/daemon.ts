/**
 * The lab daemon: the process that owns the lab's sockets. Started detached by `labUp` (inside the
 * lab namespace in netns mode), run directly as `node dist/lab/daemon.js CONFIG.json`.
 *
 * netns mode: one wildcard listener per TCP port of the universe and one wildcard UDP 137 socket;
 * the namespace's nftables table decides per address what is open, closed or filtered, so a
 * connection that reaches us is always for an open (address, port).
 * bind mode: one listener per (lab address, open port) and one UDP socket per NetBIOS host, bound
 * to explicit addresses only (never a wildcard: other servers share the root namespace's loopback).
 *
 * Readiness: once every socket is bound the daemon writes `readyFile` (atomically); on a startup
 * failure it writes the error there and exits 1. SIGTERM/SIGINT close everything and exit 0.
 */
import cluster from "node:cluster";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import net from "node:net";
import { pathToFileURL } from "node:url";
import { labIndex } from "./address.js";
import { behaviourOf, type LabMode } from "./behaviour.js";
import { daemonConfigSchema, type DaemonConfig, type DaemonReady } from "./daemon-config.js";
import { NbnsResponder } from "./nbns-responder.js";
import { Estate, NBNS_PORT, PERSONAS, type LabHost } from "./personas.js";
import { applyOverrides, readOverridesSync, writeJsonAtomicSync } from "./persona-overrides.js";
import { registerDcerpcHandlers } from "./dcerpc-handler.js";
import { connectionHandlerFor } from "./protocol-handlers.js";
import { registerSmbHandlers } from "./smb-handler.js";
import { registerTcp4444Handler } from "./tcp4444-handler.js";

/**
 * The kernel caps the backlog at net.core.somaxconn, which labUp raises to 65535 inside the lab
 * namespace; a connect scan completes its handshakes in the kernel faster than any accept loop.
 */
const BACKLOG = 65_535;
/**
 * Open descriptors per process stay below the 20,000 hard limit: past this many live connections a
 * new one is closed at once (net.Server#maxConnections) instead of failing accept() with EMFILE.
 */
const MAX_CONNECTIONS = 15_000;
/**
 * A silent connection is held 10 s, like a service waiting for a request. Under pressure (clients
 * that connect and never close) the hold shrinks to 1 s, so descriptors come back long before the
 * cap above would make the daemon close fresh connections (an accept-then-close a scanner sees).
 */
const IDLE_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_UNDER_PRESSURE_MS = 1_000;
const PRESSURE_CONNECTIONS = 5_000;
let liveConnections = 0;

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} [${process.pid}] ${message}\n`);
}

/** Errors that can repeat per connection (EMFILE under overload) are logged once a second. */
const lastLogged = new Map<string, { at: number; suppressed: number }>();
function logThrottled(key: string, message: string): void {
  const now = Date.now();
  const entry = lastLogged.get(key);
  if (entry !== undefined && now - entry.at < 1_000) {
    entry.suppressed++;
    return;
  }
  const suppressed = entry?.suppressed ?? 0;
  lastLogged.set(key, { at: now, suppressed: 0 });
  log(suppressed > 0 ? `${message} (and ${suppressed} more like it)` : message);
}

function writeReady(file: string, ready: DaemonReady): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(ready));
  renameSync(tmp, file);
}

function loadConfig(path: string | undefined): DaemonConfig {
  if (path === undefined) throw new Error("usage: daemon.js CONFIG.json");
  return daemonConfigSchema.parse(JSON.parse(readFileSync(path, "utf8")));
}

/** What the accept path needs, computed once: the estate and each persona's open nominal ports. */
interface Lab {
  readonly estate: Estate;
  readonly config: DaemonConfig;
  readonly openByPersona: readonly ReadonlySet<number>[];
}

function makeLab(config: DaemonConfig): Lab {
  const mode: LabMode = config.mode;
  return {
    estate: new Estate(config.seed, config.hosts, config.layout),
    config,
    openByPersona: PERSONAS.map((persona) => {
      const tcp = behaviourOf(persona, mode, config.tcpPorts).tcp;
      return new Set([...tcp].filter(([, state]) => state === "open").map(([port]) => port));
    }),
  };
}

/** Accept path: cheap, never throws, every socket gets an error listener before anything else. */
function onConnection(socket: net.Socket, lab: Lab, fixedHost: LabHost | null): void {
  const { estate, config } = lab;
  socket.on("error", () => {
    // ECONNRESET / EPIPE from scanners that close with RST: expected, nothing to do.
  });
  liveConnections++;
  socket.once("close", () => liveConnections--);
  try {
    const wirePort = socket.localPort;
    const index =
      fixedHost?.index ??
      (socket.localAddress === undefined ? null : labIndex(socket.localAddress));
    if (wirePort === undefined || index === null || index >= estate.hosts) {
      socket.destroy();
      return;
    }
    const nominalPort = wirePort - config.portOffset;
    // The firewall (netns) or the bind list (bind mode) already guarantees this; checked so that a
    // broken ruleset shows up as a reset (which the tests catch) rather than a silent false "open".
    if (lab.openByPersona[estate.personaOf[index] ?? -1]?.has(nominalPort) !== true) {
      socket.resetAndDestroy();
      return;
    }
    // By index even in bind mode: `lab patch` may have switched the persona since the listen.
    const host = estate.host(index);
    const idleTimeoutMs =
      liveConnections > PRESSURE_CONNECTIONS ? IDLE_TIMEOUT_UNDER_PRESSURE_MS : IDLE_TIMEOUT_MS;
    connectionHandlerFor(nominalPort)(socket, {
      host,
      nominalPort,
      wirePort,
      idleTimeoutMs,
      mode: config.mode,
      tcpPorts: config.tcpPorts,
    });
  } catch (error) {
    logThrottled("handler", `connection handler failed: ${String(error)}`);
    socket.destroy();
  }
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host, backlog: BACKLOG }, () => {
      server.off("error", reject);
      // Accept errors (EMFILE under overload) must not kill the lab.
      server.on("error", (error) =>
        logThrottled(`listen:${port}`, `listener ${host}:${port}: ${error.message}`),
      );
      resolve();
    });
  });
}

function newServer(lab: Lab, maxConnections: number, fixedHost: LabHost | null): net.Server {
  const server = net.createServer({ noDelay: true });
  server.maxConnections = maxConnections;
  server.on("connection", (socket) => onConnection(socket, lab, fixedHost));
  return server;
}

/** netns: wildcard listeners, one per TCP port of the universe. */
async function listenWildcard(lab: Lab, maxConnections: number): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  for (const port of lab.config.tcpPorts) {
    const server = newServer(lab, maxConnections, null);
    await listen(server, port + lab.config.portOffset, "0.0.0.0");
    servers.push(server);
  }
  return servers;
}

/** bind: one listener per (address, open port); closed ports have none and RST in the kernel. */
async function listenPerAddress(lab: Lab): Promise<net.Server[]> {
  const { estate, config } = lab;
  const servers: net.Server[] = [];
  for (let i = 0; i < estate.hosts; i++) {
    const host = estate.host(i);
    for (const port of lab.openByPersona[estate.personaOf[i] ?? -1] ?? []) {
      const server = newServer(lab, MAX_CONNECTIONS, host);
      await listen(server, port + config.portOffset, host.address);
      servers.push(server);
    }
  }
  return servers;
}

function netbiosHosts(estate: Estate, config: DaemonConfig): LabHost[] {
  const hosts: LabHost[] = [];
  for (let i = 0; i < estate.hosts; i++) {
    const persona = estate.persona(i);
    if (behaviourOf(persona, config.mode, config.tcpPorts).udp137 === "nbstat")
      hosts.push(estate.host(i));
  }
  return hosts;
}

let stopping = false;

/** Installed first thing, so a SIGTERM during startup also ends the process cleanly. */
function onShutdown(close: () => Promise<void>): void {
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(0), 3_000);
    force.unref();
    close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

function closeServers(servers: readonly net.Server[]): Promise<void> {
  return Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
        }),
    ),
  ).then(() => undefined);
}

/** A cluster worker: accepts TCP on the listening sockets it shares with its siblings. */
async function runWorker(config: DaemonConfig): Promise<void> {
  const servers: net.Server[] = [];
  onShutdown(() => closeServers(servers));
  // The primary owns the lifecycle: when it goes, so do we.
  process.on("disconnect", () => process.exit(0));
  const perWorker = Math.floor(MAX_CONNECTIONS / Math.max(1, config.workers));
  const lab = makeLab(config);
  const reload = overridesReloader(lab);
  reload();
  // The primary forwards `lab patch`'s SIGHUP; each worker reloads and reports the generation.
  process.on("SIGHUP", () => process.send?.({ kind: "overrides-applied", generation: reload() }));
  servers.push(...(await listenWildcard(lab, perWorker)));
  process.send?.({ kind: "worker-ready", listeners: servers.length });
}

async function runPrimary(config: DaemonConfig): Promise<void> {
  const started = Date.now();
  const lab = makeLab(config);
  const { estate } = lab;
  installOverridesReload(lab);
  const wireNbns = NBNS_PORT + config.portOffset;
  const nbns = new NbnsResponder(estate, config.mode, config.tcpPorts, wireNbns, log);
  const servers: net.Server[] = [];
  onShutdown(async () => {
    nbns.close();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    await closeServers(servers);
  });
  let tcpListeners = 0;
  let workers = 0;

  if (config.mode === "bind") {
    servers.push(...(await listenPerAddress(lab)));
    tcpListeners = servers.length;
    await nbns.listenPerHost(netbiosHosts(estate, config));
  } else {
    await nbns.listenWildcard();
    if (config.workers === 0) {
      servers.push(...(await listenWildcard(lab, MAX_CONNECTIONS)));
      tcpListeners = servers.length;
    } else {
      tcpListeners = await startWorkers(config);
      workers = config.workers;
    }
  }

  writeReady(config.readyFile, {
    ok: true,
    pid: process.pid,
    tcpListeners,
    udpSockets: nbns.socketCount,
    workers,
    rssBytes: process.memoryUsage.rss(),
  });
  log(
    `lab ${config.name} up (${config.mode}, ${config.hosts} hosts, ${tcpListeners} TCP listeners, ` +
      `${nbns.socketCount} UDP sockets, ${workers} workers) in ${Date.now() - started} ms`,
  );
}

/**
 * Re-reads the persona overrides (persona-overrides.ts) into the estate, from the seeded personas
 * each time so that an override removed is undone. Returns the generation applied (0: none).
 */
function overridesReloader(lab: Lab): () => number {
  const baseline = lab.estate.personaOf.slice();
  const file = lab.config.overridesFile;
  return () => {
    if (file === undefined) return 0;
    const overrides = readOverridesSync(file);
    applyOverrides(lab.estate, baseline, overrides);
    return overrides?.generation ?? 0;
  };
}

/**
 * Primary: SIGHUP reloads the overrides here, in every accept worker, then writes the
 * acknowledgement `lab patch` waits for (only once every worker has applied it, so that no
 * connection after the acknowledgement meets an old persona).
 */
function installOverridesReload(lab: Lab): void {
  const file = lab.config.overridesFile;
  const reload = overridesReloader(lab);
  reload();
  if (file === undefined) return;
  const ackFile = file.replace(/\.overrides\.json$/, ".overrides-ack.json");
  process.on("SIGHUP", () => {
    const generation = reload();
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    let pending = workers.length;
    const done = (): void => {
      writeJsonAtomicSync(ackFile, { generation, pid: process.pid });
      log(`persona overrides generation ${generation} applied`);
    };
    if (pending === 0) {
      done();
      return;
    }
    const timer = setTimeout(
      () => log("a worker did not acknowledge the overrides reload"),
      10_000,
    );
    timer.unref();
    for (const worker of workers) {
      const onMessage = (message: { kind?: string; generation?: number }): void => {
        if (message.kind !== "overrides-applied" || message.generation !== generation) return;
        worker.off("message", onMessage);
        if (--pending === 0) {
          clearTimeout(timer);
          done();
        }
      };
      worker.on("message", onMessage);
      worker.process.kill("SIGHUP");
    }
  });
}

/** Fork the accept workers; a worker that dies is replaced so the lab keeps answering. */
function startWorkers(config: DaemonConfig): Promise<number> {
  // SCHED_NONE: every worker calls accept() on the shared socket. The default round-robin policy
  // accepts in the primary and passes each socket over IPC, which costs more than the accept itself.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  return new Promise((resolve, reject) => {
    let ready = 0;
    let listeners = 0;
    const fork = (): void => {
      const worker = cluster.fork();
      worker.on("message", (message: { kind?: string; listeners?: number }) => {
        if (message.kind !== "worker-ready") return;
        listeners = message.listeners ?? 0;
        if (++ready === config.workers) resolve(listeners);
      });
      worker.on("exit", (code, signal) => {
        if (stopping) return;
        if (ready < config.workers) {
          reject(new Error(`accept worker exited during startup (code ${code}, signal ${signal})`));
          return;
        }
        log(
          `accept worker ${worker.process.pid} exited (code ${code}, signal ${signal}); restarting`,
        );
        fork();
      });
    };
    for (let i = 0; i < config.workers; i++) fork();
  });
}

async function main(): Promise<void> {
  // Protocol emulators attach by nominal port; workers run main() too, so they get them as well.
  registerDcerpcHandlers();
  registerSmbHandlers();
  registerTcp4444Handler();
  // cluster.fork() re-runs this module with the same argv, so workers read the same config.
  if (cluster.isWorker) {
    try {
      await runWorker(loadConfig(process.argv[2]));
    } catch (error) {
      log(`accept worker startup failed: ${String(error)}`);
      process.exit(1);
    }
    return;
  }
  let config: DaemonConfig | undefined;
  try {
    config = loadConfig(process.argv[2]);
    await runPrimary(config);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`startup failed: ${message}`);
    if (config !== undefined)
      writeReady(config.readyFile, { ok: false, pid: process.pid, error: message });
    process.exit(1);
  }
}

// Run only as an entry point, so the module can also be imported (tests, type checks).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
