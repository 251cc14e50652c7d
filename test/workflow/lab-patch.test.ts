/**
 * `ringfence lab patch`: a running lab host switches to its persona at another patch level, the
 * daemon answers as the new persona from the acknowledgement on, and the ground truth follows.
 * Bind mode everywhere; as root also a netns lab with accept workers (the SIGHUP is forwarded to
 * each worker and acknowledged only when all have applied it).
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERSONAS, labAddress, netnsNameFor } from "../../src/lab/index.js";
import { isOneLineError, runCli } from "../helpers/cli.js";
import { cleanupLab, privileged, tempStateDir, uniqueLabName } from "../lab/helpers.js";

const XP = labAddress(PERSONAS.findIndex((p) => p.id === "xp-sp1"));
const LINUX = labAddress(PERSONAS.findIndex((p) => p.id === "linux-server"));
const HOSTS = 12;

interface CheckJson {
  hosts: { address: string; results: { checkId: string; verdict: string }[] }[];
}

function suite(mode: "bind" | "netns", workers: number) {
  const name = uniqueLabName(`lp${mode[0]}${workers}`);
  let dir: string;
  const env = () => ({ RINGFENCE_LAB_DIR: dir });
  const lab = (args: string[]) => runCli(["lab", ...args, "--name", name], { env: env() });

  /** The MS03-026 check's verdict on the XP host, as the lab answers it now. */
  async function verdict(): Promise<string> {
    const result = await runCli(
      ["check", "ms03-026-remote-activation", XP, "--lab-name", name, "--json"],
      { env: env() },
    );
    const parsed = JSON.parse(result.stdout) as CheckJson;
    const run = parsed.hosts
      .find((h) => h.address === XP)
      ?.results.find((r) => r.checkId === "ms03-026-remote-activation");
    return run?.verdict ?? `no result: ${result.stdout.slice(0, 200)}`;
  }

  async function groundTruthPersona(address: string): Promise<string | undefined> {
    const status = JSON.parse((await lab(["status", "--json"])).stdout) as {
      state: { groundTruthFile: string };
    };
    const truth = JSON.parse(await readFile(status.state.groundTruthFile, "utf8")) as {
      hosts: { address: string; persona: string }[];
    };
    return truth.hosts.find((h) => h.address === address)?.persona;
  }

  beforeAll(async () => {
    dir = await tempStateDir();
    const up = await lab([
      "up",
      "--hosts",
      String(HOSTS),
      "--layout",
      "catalogue",
      "--mode",
      mode,
      ...(mode === "netns" ? ["--workers", String(workers)] : []),
    ]);
    expect(up.code, up.stderr).toBe(0);
  });

  afterAll(async () => {
    await cleanupLab(name, dir, mode === "netns" ? netnsNameFor(name) : null);
  });

  it("switches xp-sp1 to KB824146 and back; the check and the ground truth follow", async () => {
    expect(await verdict()).toBe("VULNERABLE");
    const patched = await lab(["patch", XP, "--json"]);
    expect(patched.code, patched.stderr).toBe(0);
    expect(JSON.parse(patched.stdout)).toMatchObject({
      from: "xp-sp1",
      to: "xp-sp1-patched",
      generation: 1,
    });
    expect(await groundTruthPersona(XP)).toBe("xp-sp1-patched");
    // Several connections: with accept workers each may land on another process.
    for (let i = 0; i < 3; i++) expect(await verdict()).toBe("NOT_VULNERABLE");

    const back = await lab(["patch", XP, "--to", "none", "--json"]);
    expect(JSON.parse(back.stdout)).toMatchObject({
      from: "xp-sp1-patched",
      to: "xp-sp1",
      generation: 2,
    });
    expect(await groundTruthPersona(XP)).toBe("xp-sp1");
    for (let i = 0; i < 3; i++) expect(await verdict()).toBe("VULNERABLE");
  });

  it("refuses a host without a variant of the same shape, and an address outside the lab", async () => {
    const linux = await lab(["patch", LINUX]);
    expect(linux.code).toBe(2);
    expect(isOneLineError(linux.stderr)).toBe(true);
    expect(linux.stderr).toMatch(/no kb824146 variant of linux-server/);
    const outside = await lab(["patch", "127.0.0.1"]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/not a host of lab/);
    const badLevel = await lab(["patch", XP, "--to", "kb999"]);
    expect(badLevel.code).toBe(2);
    // Nothing changed: still the seeded persona.
    expect(await groundTruthPersona(XP)).toBe("xp-sp1");
  });
}

describe("lab patch, bind mode", { timeout: 120_000 }, () => suite("bind", 0));
describe.runIf(privileged)(
  "lab patch, netns mode with 2 accept workers",
  { timeout: 120_000 },
  () => suite("netns", 2),
);
