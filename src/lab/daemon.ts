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
import { Estate, NBNS_PORT, type LabHost } from "./personas.js";
import { connectionHandlerFor } from "./protocol-handlers.js";

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

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} [${process.pid}] ${message}\n`);
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

/** Accept path: cheap, never throws, every socket gets an error listener before anything else. */
function onConnection(
  socket: net.Socket,
  estate: Estate,
  mode: LabMode,
  config: DaemonConfig,
  fixedHost: LabHost | null,
): void {
  socket.on("error", () => {
    // ECONNRESET / EPIPE from scanners that close with RST: expected, nothing to do.
  });
  try {
    const wirePort = socket.localPort;
    const index =
      fixedHost?.index ??
      (socket.localAddress === undefined ? null : labIndex(socket.localAddress));
    if (wirePort === undefined || index === null || index >= estate.hosts) {
      socket.destroy();
      return;
    }
    const host = fixedHost ?? estate.host(index);
    const nominalPort = wirePort - config.portOffset;
    // The firewall (netns) or the bind list (bind mode) already guarantees this; checked so that a
    // misconfigured namespace shows up as a refused connection rather than a false "open".
    if (behaviourOf(host.persona, mode, config.tcpPorts).tcp.get(nominalPort) !== "open") {
      socket.resetAndDestroy();
      return;
    }
    connectionHandlerFor(nominalPort)(socket, { host, nominalPort, wirePort });
  } catch (error) {
    log(`connection handler failed: ${String(error)}`);
    socket.destroy();
  }
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host, backlog: BACKLOG }, () => {
      server.off("error", reject);
      // Accept errors (EMFILE under overload) must not kill the lab.
      server.on("error", (error) => log(`listener ${host}:${port}: ${error.message}`));
      resolve();
    });
  });
}

function newServer(
  estate: Estate,
  config: DaemonConfig,
  maxConnections: number,
  fixedHost: LabHost | null,
): net.Server {
  const server = net.createServer({ pauseOnConnect: false, noDelay: true });
  server.maxConnections = maxConnections;
  server.on("connection", (socket) => onConnection(socket, estate, config.mode, config, fixedHost));
  return server;
}

/** netns: wildcard listeners, one per TCP port of the universe. */
async function listenWildcard(
  estate: Estate,
  config: DaemonConfig,
  maxConnections: number,
): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  for (const port of config.tcpPorts) {
    const server = newServer(estate, config, maxConnections, null);
    await listen(server, port + config.portOffset, "0.0.0.0");
    servers.push(server);
  }
  return servers;
}

/** bind: one listener per (address, open port); closed ports have none and RST in the kernel. */
async function listenPerAddress(estate: Estate, config: DaemonConfig): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  for (let i = 0; i < estate.hosts; i++) {
    const host = estate.host(i);
    const behaviour = behaviourOf(host.persona, "bind", config.tcpPorts);
    for (const [port, state] of behaviour.tcp) {
      if (state !== "open") continue;
      const server = newServer(estate, config, MAX_CONNECTIONS, host);
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

function onShutdown(close: () => Promise<void>): void {
  let stopping = false;
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
  const estate = new Estate(config.seed, config.hosts);
  const perWorker = Math.floor(MAX_CONNECTIONS / Math.max(1, config.workers));
  const servers = await listenWildcard(estate, config, perWorker);
  process.send?.({ kind: "worker-ready", listeners: servers.length });
  // The primary owns the lifecycle: when it goes, so do we.
  process.on("disconnect", () => process.exit(0));
  onShutdown(() => closeServers(servers));
}

async function runPrimary(config: DaemonConfig): Promise<void> {
  const started = Date.now();
  const estate = new Estate(config.seed, config.hosts);
  const wireNbns = NBNS_PORT + config.portOffset;
  const nbns = new NbnsResponder(estate, config.mode, config.tcpPorts, wireNbns, log);
  let servers: net.Server[] = [];
  let tcpListeners = 0;
  let workers = 0;

  if (config.mode === "bind") {
    servers = await listenPerAddress(estate, config);
    tcpListeners = servers.length;
    await nbns.listenPerHost(netbiosHosts(estate, config));
  } else {
    await nbns.listenWildcard();
    if (config.workers === 0) {
      servers = await listenWildcard(estate, config, MAX_CONNECTIONS);
      tcpListeners = servers.length;
    } else {
      tcpListeners = await startWorkers(config);
      workers = config.workers;
    }
  }

  onShutdown(async () => {
    nbns.close();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    await closeServers(servers);
  });
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

/** Fork the accept workers; a worker that dies is replaced so the lab keeps answering. */
function startWorkers(config: DaemonConfig): Promise<number> {
  // SCHED_NONE: every worker calls accept() on the shared socket. The default round-robin policy
  // accepts in the primary and passes each socket over IPC, which costs more than the accept itself.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let shuttingDown = false;
  process.once("SIGTERM", () => (shuttingDown = true));
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
        if (shuttingDown) return;
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
