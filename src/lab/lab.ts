import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RingfenceError } from "../errors.js";
import { LAB_BASE, MAX_LAB_HOSTS, labIndex, labRange } from "./address.js";
import { behaviourOf, type LabMode } from "./behaviour.js";
import type { DaemonConfig, DaemonReady } from "./daemon-config.js";
import { writeGroundTruth } from "./ground-truth.js";
import { renderLabRuleset } from "./lab-ruleset.js";
import {
  DEFAULT_LAB_NAME,
  checkLabName,
  defaultStateDir,
  labFiles,
  netnsNameFor,
  readLabState,
  writeLabState,
  type LabState,
} from "./lab-state.js";
import {
  Estate,
  LAB_LAYOUTS,
  LAB_TCP_PORTS,
  LAB_UDP_PORTS,
  NBNS_PORT,
  type LabLayout,
} from "./personas.js";
import {
  conflictingSockets,
  createNetns,
  deleteNetns,
  hasNetnsPrivileges,
  lastLines,
  loadNftInNetns,
  netnsExists,
  netnsPath,
  netnsPids,
  processAlive,
  processCommandLine,
  unprivilegedPortStart,
} from "./system.js";

export interface LabUpOptions {
  /** Lab name (default "default" → namespace "rf-lab"; "x" → "rf-lab-x"). */
  readonly name?: string;
  /** Number of hosts, 1..262,144 (default 4,096 = 127.20.0.0/20). */
  readonly hosts?: number;
  /** Persona seed (default "ringfence"): the same seed gives the same estate everywhere. */
  readonly seed?: string;
  /**
   * How hosts get personas: "estate" (default) draws them from the seed by weight; "catalogue"
   * gives host i PERSONAS[i % PERSONAS.length], so `hosts: PERSONAS.length` is one host per
   * persona, including the weight-0 (hostile) ones the estate never draws.
   */
  readonly layout?: LabLayout;
  /** "auto" (default): netns when privileged (CAP_NET_ADMIN + CAP_SYS_ADMIN), else bind. */
  readonly mode?: "auto" | "netns" | "bind";
  /** Added to every port on the wire. Default 0 in netns mode, 20,000 in bind mode. */
  readonly portOffset?: number;
  /** Where state, ground truth and logs live (default $RINGFENCE_LAB_DIR or ~/.ringfence/lab). */
  readonly stateDir?: string;
  /** netns mode: TCP accept workers sharing the listeners (default 0: accept in the daemon). */
  readonly workers?: number;
  /** How long to wait for the daemon to bind everything (default 60 s). */
  readonly readyTimeoutMs?: number;
}

export interface LabRef {
  readonly name?: string;
  readonly stateDir?: string;
}

export interface LabStatus {
  readonly state: LabState;
  /** The daemon process is running (and is still our daemon). */
  readonly alive: boolean;
  /** netns mode: /run/netns/<netns> exists. Always true in bind mode. */
  readonly netnsPresent: boolean;
}

export interface LabDownResult {
  readonly name: string;
  /** A live daemon was stopped. */
  readonly stopped: boolean;
  /** A namespace (current or stale) was deleted. */
  readonly netnsDeleted: boolean;
}

export const DEFAULT_LAB_HOSTS = 4_096;
export const DEFAULT_LAB_SEED = "ringfence";
export const DEFAULT_BIND_PORT_OFFSET = 20_000;
/**
 * Bind mode needs a descriptor per (address, open port) and per NetBIOS host; the hard open-file
 * limit is 20,000 on our machines, and accepted connections need descriptors too.
 */
export const MAX_BIND_SOCKETS = 15_000;
const DEFAULT_READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Start a lab: create its namespace and firewall (netns mode), start the daemon detached, wait
 * until every socket is bound, write the ground truth and the state file.
 */
export async function labUp(options: LabUpOptions = {}): Promise<LabState> {
  const started = performance.now();
  const name = checkLabName(options.name ?? DEFAULT_LAB_NAME);
  const hosts = options.hosts ?? DEFAULT_LAB_HOSTS;
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_LAB_HOSTS) {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `a lab has 1 to ${MAX_LAB_HOSTS} hosts, not ${hosts}`,
      {
        hint: `the lab lives in ${LAB_BASE}/14; pick --hosts 1..${MAX_LAB_HOSTS}`,
      },
    );
  }
  const seed = options.seed ?? DEFAULT_LAB_SEED;
  const layout = options.layout ?? "estate";
  if (!LAB_LAYOUTS.includes(layout)) {
    throw new RingfenceError("RINGFENCE_LAB", `unknown lab layout ${JSON.stringify(layout)}`, {
      hint: `use ${LAB_LAYOUTS.join(" or ")}`,
    });
  }
  const privileged = await hasNetnsPrivileges();
  const mode = await resolveMode(options.mode ?? "auto", privileged);
  const portOffset = options.portOffset ?? (mode === "bind" ? DEFAULT_BIND_PORT_OFFSET : 0);
  await checkPortOffset(portOffset, mode, privileged);
  const workers = options.workers ?? 0;
  if (
    !Number.isInteger(workers) ||
    workers < 0 ||
    workers > 16 ||
    (workers > 0 && mode === "bind")
  ) {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `workers must be 0..16 and only in netns mode, got ${workers}`,
    );
  }

  const stateDir = options.stateDir ?? defaultStateDir();
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const files = labFiles(stateDir, name);
  const tcpPorts = [...LAB_TCP_PORTS];
  const releaseLock = await takeLock(files.lock, name);
  try {
    await refuseIfUp(stateDir, name);
    const estate = new Estate(seed, hosts, layout);
    if (mode === "bind") await checkBindMode(estate, tcpPorts, portOffset);
    const netns = mode === "netns" ? netnsNameFor(name) : null;
    if (netns !== null) await claimNetns(netns);
    // Past this point everything created is ours, and a failure removes it again.
    return await startLab({
      name,
      mode,
      seed,
      portOffset,
      workers,
      estate,
      tcpPorts,
      netns,
      files,
      stateDir,
      started,
      readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    });
  } finally {
    await releaseLock();
  }
}

interface StartPlan {
  readonly name: string;
  readonly mode: LabMode;
  readonly seed: string;
  readonly portOffset: number;
  readonly workers: number;
  readonly estate: Estate;
  readonly tcpPorts: number[];
  readonly netns: string | null;
  readonly files: ReturnType<typeof labFiles>;
  readonly stateDir: string;
  readonly started: number;
  readonly readyTimeoutMs: number;
}

async function startLab(plan: StartPlan): Promise<LabState> {
  const { name, mode, seed, portOffset, workers, estate, tcpPorts, netns, files } = plan;
  let child: ChildProcess | null = null;
  try {
    let nftLoadMs: number | null = null;
    if (netns !== null) {
      await createNetns(netns);
      await writeFile(files.ruleset, renderLabRuleset(estate, { tcpPorts, portOffset }));
      nftLoadMs = await loadNftInNetns(netns, files.ruleset);
    }

    const hosts = estate.hosts;
    const config: DaemonConfig = {
      name,
      mode,
      hosts,
      seed,
      layout: estate.layout,
      portOffset,
      tcpPorts,
      readyFile: files.ready,
      workers,
      overridesFile: files.overrides,
    };
    await writeFile(files.daemonConfig, JSON.stringify(config));
    await rm(files.ready, { force: true });
    // A new lab starts from its seed: no persona overrides from an earlier run.
    await rm(files.overrides, { force: true });
    await rm(files.overridesAck, { force: true });
    const spawnedAt = performance.now();
    child = await spawnDaemon(files.daemonConfig, files.log, netns, plan.stateDir);
    // The ground truth (up to ~100 MB at /14) is written while the daemon binds.
    const [ready] = await Promise.all([
      waitReady(child, files.ready, files.log, plan.readyTimeoutMs),
      writeGroundTruth(files.groundTruth, estate, { name, mode, tcpPorts, portOffset }),
    ]);
    const daemonReadyMs = Math.round(performance.now() - spawnedAt);

    const state: LabState = {
      format: "ringfence-lab-state/1",
      name,
      mode,
      netns,
      netnsPath: netns === null ? null : netnsPath(netns),
      base: LAB_BASE,
      hosts,
      seed,
      layout: estate.layout,
      portOffset,
      tcpPorts,
      udpPorts: [...LAB_UDP_PORTS],
      pid: ready.pid,
      groundTruthFile: files.groundTruth,
      logFile: files.log,
      startedAt: new Date().toISOString(),
      range: labRange(hosts),
      timings: { nftLoadMs, daemonReadyMs, totalMs: Math.round(performance.now() - plan.started) },
      daemonRssBytes: ready.rssBytes,
    };
    await writeLabState(files.state, state);
    // From here on the daemon lives on its own: the CLI may exit.
    child.unref();
    return state;
  } catch (error) {
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((r) => child?.once("exit", r));
    }
    if (netns !== null) await deleteNetns(netns).catch(() => undefined);
    await removeLabFiles(files, { keepLog: true });
    throw error;
  }
}

/**
 * Stop a lab: stop the daemon, delete the namespace (which takes its nftables table with it), remove
 * the lab's files. Idempotent; also cleans up after a crashed daemon or a stale namespace.
 */
export async function labDown(ref: LabRef = {}): Promise<LabDownResult> {
  const name = checkLabName(ref.name ?? DEFAULT_LAB_NAME);
  const stateDir = ref.stateDir ?? defaultStateDir();
  const files = labFiles(stateDir, name);
  const releaseLock = await takeLock(files.lock, name);
  try {
    return await tearDown(files, name);
  } finally {
    await releaseLock();
  }
}

/** labDown's work, for callers that hold the lock. */
async function tearDown(files: ReturnType<typeof labFiles>, name: string): Promise<LabDownResult> {
  const state = await readLabState(files.state).catch(() => null);
  let stopped = false;
  const pid = state?.pid ?? (await readyPid(files.ready));
  if (pid !== null && (await isOurDaemon(pid, files.daemonConfig)))
    stopped = await stopProcess(pid);
  let netnsDeleted = false;
  // The state's namespace (none in bind mode), or without state the one this name would have.
  // Namespace names are global and state directories are not: unless we just stopped the daemon
  // in it, a namespace is deleted only when nothing runs in it (a crashed lab's leftover), never
  // while it may serve a lab of another state directory.
  const netns = state !== null ? state.netns : netnsNameFor(name);
  if (netns !== null && netnsExists(netns)) {
    if (stopped || (await netnsPids(netns)).length === 0) {
      await deleteNetns(netns);
      netnsDeleted = true;
    }
  }
  await removeLabFiles(files, { keepLog: false });
  return { name, stopped, netnsDeleted };
}

/** The lab's state and whether it is actually running, or null when no such lab is up. */
export async function labStatus(ref: LabRef = {}): Promise<LabStatus | null> {
  const name = checkLabName(ref.name ?? DEFAULT_LAB_NAME);
  const files = labFiles(ref.stateDir ?? defaultStateDir(), name);
  const state = await readLabState(files.state);
  if (state === null) return null;
  return {
    state,
    alive: await isOurDaemon(state.pid, files.daemonConfig),
    netnsPresent: state.netns === null ? true : netnsExists(state.netns),
  };
}

async function resolveMode(
  requested: "auto" | "netns" | "bind",
  privileged: boolean,
): Promise<LabMode> {
  if (requested === "bind") return "bind";
  if (requested === "netns" && !privileged) {
    throw new RingfenceError(
      "RINGFENCE_NEEDS_PRIVILEGE",
      "a netns lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN",
      {
        hint: "run as root, or use --mode bind for a small lab on per-address listeners",
      },
    );
  }
  if (requested !== "netns" && requested !== "auto") {
    throw new RingfenceError("RINGFENCE_LAB", `unknown lab mode ${JSON.stringify(requested)}`, {
      hint: "use auto, netns or bind",
    });
  }
  return privileged ? "netns" : "bind";
}

async function checkPortOffset(offset: number, mode: LabMode, privileged: boolean): Promise<void> {
  const highest = Math.max(...LAB_TCP_PORTS, ...LAB_UDP_PORTS);
  if (!Number.isInteger(offset) || offset < 0 || highest + offset > 65_535) {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `port offset must be 0..${65_535 - highest}, got ${offset}`,
    );
  }
  // In netns mode the daemon runs as root; in bind mode it runs as us, in the root namespace.
  const lowest = Math.min(...LAB_TCP_PORTS, ...LAB_UDP_PORTS) + offset;
  if (mode === "bind" && !privileged && lowest < (await unprivilegedPortStart())) {
    throw new RingfenceError(
      "RINGFENCE_NEEDS_PRIVILEGE",
      `port ${lowest} cannot be bound without privilege`,
      {
        hint: `use a port offset such as ${DEFAULT_BIND_PORT_OFFSET} (135 → ${135 + DEFAULT_BIND_PORT_OFFSET}); scanners read it from the lab state`,
      },
    );
  }
}

async function checkBindMode(
  estate: Estate,
  tcpPorts: readonly number[],
  portOffset: number,
): Promise<void> {
  let sockets = 0;
  for (let i = 0; i < estate.hosts; i++) {
    const b = behaviourOf(estate.persona(i), "bind", tcpPorts);
    for (const state of b.tcp.values()) if (state === "open") sockets++;
    if (b.udp137 === "nbstat") sockets++;
  }
  if (sockets > MAX_BIND_SOCKETS) {
    const perHost = sockets / estate.hosts;
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `a bind-mode lab of ${estate.hosts} hosts needs ${sockets} sockets, more than the ${MAX_BIND_SOCKETS} that fit under the open-file limit`,
      {
        hint: `run as root for a netns lab (a handful of sockets for any size), or use at most ~${Math.floor(MAX_BIND_SOCKETS / perHost)} hosts`,
      },
    );
  }
  const conflicts = await conflictingSockets(
    tcpPorts.map((p) => p + portOffset),
    [NBNS_PORT + portOffset],
    (address) => labIndex(address) !== null,
  );
  if (conflicts.length > 0) {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `sockets in the root namespace would answer for lab addresses: ${conflicts.slice(0, 5).join(", ")}`,
      {
        hint: "a wildcard listener makes closed lab ports look open, and a lab address in use means another bind-mode lab is up; pick another --port-offset or stop it",
      },
    );
  }
}

async function refuseIfUp(stateDir: string, name: string): Promise<void> {
  const status = await labStatus({ name, stateDir }).catch(() => null);
  if (status === null) {
    // A damaged state file or leftovers from a crash: clean before starting again.
    if (existsSync(labFiles(stateDir, name).state)) await tearDown(labFiles(stateDir, name), name);
    return;
  }
  if (status.alive) {
    const where = status.state.netns === null ? "bind mode" : `namespace ${status.state.netns}`;
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `lab "${name}" is already up (${status.state.hosts} hosts, ${where}, daemon pid ${status.state.pid})`,
      {
        hint: `run \`ringfence lab down${name === DEFAULT_LAB_NAME ? "" : ` --name ${name}`}\` first, or pick another --name`,
      },
    );
  }
  await tearDown(labFiles(stateDir, name), name);
}

/**
 * The namespace name is global while state directories are not: a namespace left by a crash is
 * reused, one in use by a lab of another state directory is not.
 */
async function claimNetns(netns: string): Promise<void> {
  if (!netnsExists(netns)) return;
  const pids = await netnsPids(netns);
  if (pids.length > 0) {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `network namespace ${netns} is in use (pids ${pids.slice(0, 5).join(", ")})`,
      {
        hint: "another lab of that name runs from another state directory; stop it or pick another --name",
      },
    );
  }
  await deleteNetns(netns);
}

/** dist/lab/daemon.js next to this module when built, else src/lab/daemon.ts through tsx. */
function daemonEntry(): { execArgv: string[]; script: string } {
  const here = dirname(fileURLToPath(import.meta.url));
  const js = join(here, "daemon.js");
  if (existsSync(js)) return { execArgv: [], script: js };
  const ts = join(here, "daemon.ts");
  if (existsSync(ts)) {
    let loader: string;
    try {
      loader = createRequire(import.meta.url).resolve("tsx");
    } catch (error) {
      throw new RingfenceError(
        "RINGFENCE_LAB",
        "the lab daemon is not built and tsx is not installed",
        {
          hint: "run `npm run build`",
          cause: error,
        },
      );
    }
    return { execArgv: ["--import", pathToFileURL(loader).href], script: ts };
  }
  throw new RingfenceError("RINGFENCE_LAB", `the lab daemon is missing next to ${here}`, {
    hint: "run `npm run build`",
  });
}

async function spawnDaemon(
  config: string,
  logFile: string,
  netns: string | null,
  cwd: string,
): Promise<ChildProcess> {
  const { execArgv, script } = daemonEntry();
  const nodeArgs = [...execArgv, script, config];
  const log = await open(logFile, "a");
  try {
    // `ip netns exec` execs node in place (no fork), so the child's pid is the daemon's.
    const [command, args] =
      netns === null
        ? [process.execPath, nodeArgs]
        : ["ip", ["netns", "exec", netns, process.execPath, ...nodeArgs]];
    const child = spawn(command, args, {
      detached: true, // own process group and session: survives the CLI and its terminal
      stdio: ["ignore", log.fd, log.fd],
      cwd,
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (error) =>
        reject(
          new RingfenceError("RINGFENCE_LAB", `cannot start the lab daemon: ${error.message}`),
        ),
      );
    });
    return child;
  } finally {
    await log.close();
  }
}

async function waitReady(
  child: ChildProcess,
  readyFile: string,
  logFile: string,
  timeoutMs: number,
): Promise<Extract<DaemonReady, { ok: true }>> {
  const deadline = performance.now() + timeoutMs;
  const tail = async (): Promise<string> => {
    const text = await readFile(logFile, "utf8").catch(() => "");
    return text.trim() === "" ? "(no output)" : lastLines(text, 12);
  };
  for (;;) {
    const text = await readFile(readyFile, "utf8").catch(() => null);
    if (text !== null) {
      const ready = JSON.parse(text) as DaemonReady;
      if (ready.ok) return ready;
      throw new RingfenceError(
        "RINGFENCE_LAB",
        `the lab daemon failed to start: ${ready.error}\n${await tail()}`,
        {
          hint: `full log: ${logFile}`,
        },
      );
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new RingfenceError(
        "RINGFENCE_LAB",
        `the lab daemon exited during startup (${child.exitCode ?? child.signalCode})\n${await tail()}`,
        { hint: `full log: ${logFile}` },
      );
    }
    if (performance.now() > deadline) {
      throw new RingfenceError(
        "RINGFENCE_LAB",
        `the lab daemon was not ready after ${timeoutMs} ms\n${await tail()}`,
        {
          hint: `full log: ${logFile}`,
        },
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function readyPid(readyFile: string): Promise<number | null> {
  try {
    const ready = JSON.parse(await readFile(readyFile, "utf8")) as DaemonReady;
    return ready.pid;
  } catch {
    return null;
  }
}

/** A pid is ours only while its command line names this lab's config: pids get reused. */
async function isOurDaemon(pid: number, configFile: string): Promise<boolean> {
  if (!processAlive(pid)) return false;
  const argv = await processCommandLine(pid);
  return argv !== null && argv.includes(configFile);
}

async function stopProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return false;
  }
  const deadline = performance.now() + STOP_TIMEOUT_MS;
  while (processAlive(pid) && !(await isZombie(pid))) {
    if (performance.now() > deadline) {
      process.kill(pid, "SIGKILL");
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/** A daemon we spawned in this process stays a zombie until reaped; it is stopped all the same. */
async function isZombie(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (stat === null) return true;
  return /\) Z /.test(stat);
}

async function removeLabFiles(
  files: ReturnType<typeof labFiles>,
  options: { keepLog: boolean },
): Promise<void> {
  const doomed = [
    files.state,
    files.groundTruth,
    files.daemonConfig,
    files.ready,
    files.ruleset,
    files.overrides,
    files.overridesAck,
  ];
  if (!options.keepLog) doomed.push(files.log);
  await Promise.all(doomed.map((f) => rm(f, { force: true })));
}

/**
 * One `lab up` / `lab down` per lab name at a time: an exclusive-create lock file holding our
 * pid; a lock whose holder died is taken over.
 */
const locksHeld = new Set<string>();

async function takeLock(lockFile: string, name: string): Promise<() => Promise<void>> {
  if (locksHeld.has(lockFile)) {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `lab "${name}" is being started or stopped by this process`,
      {
        hint: "wait for the other call to finish",
      },
    );
  }
  await mkdir(dirname(lockFile), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      locksHeld.add(lockFile);
      return async () => {
        locksHeld.delete(lockFile);
        await unlink(lockFile).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(await readFile(lockFile, "utf8").catch(() => ""));
      if (
        Number.isInteger(holder) &&
        holder > 0 &&
        holder !== process.pid &&
        processAlive(holder)
      ) {
        throw new RingfenceError(
          "RINGFENCE_LAB",
          `lab "${name}" is being started or stopped by pid ${holder}`,
          {
            hint: "wait for it to finish",
          },
        );
      }
      await unlink(lockFile).catch(() => undefined);
    }
  }
  throw new RingfenceError("RINGFENCE_LAB", `cannot lock lab "${name}" (${lockFile})`);
}
