import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type ScanRecord, type Store } from "../../src/store/index.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";
import { probe, sqlRows } from "./store-test-helpers.js";

/**
 * One inventory built by two scans, queried many ways:
 *   scan 1: 10.0.0.2 (445 open, 135 open, udp/137 open), 10.0.0.10 (445 closed, 3389 open),
 *           10.0.0.100 (445 filtered, nothing answered: no asset), 9.255.255.255 (445 open)
 *   scan 2: 10.0.0.10 (445 open now), 2001:db8::1 (445 open), 10.0.0.2 (135 closed now)
 */
let where: TestStoreLocation;
let store: Store;
let first: ScanRecord;
let second: ScanRecord;

beforeAll(async () => {
  where = await createTestStoreLocation();
  const path = where.location;
  store = await openStore(path);
  first = await store.createScan({ command: "scan", params: { n: 1 }, totalProbes: 7 });
  await store.recordBatch(
    first.id,
    [
      probe("10.0.0.2", 445, "open", { hostnames: ["dc1"] }),
      probe("10.0.0.2", 135, "open"),
      probe("10.0.0.2", 137, "open", { protocol: "udp", detail: { names: ["DC1"] } }),
      probe("10.0.0.10", 445, "closed"),
      probe("10.0.0.10", 3389, "open"),
      probe("10.0.0.100", 445, "filtered"),
      probe("9.255.255.255", 445, "open"),
    ],
    { step: 1, probesDone: 7, counts: {} },
  );
  second = await store.createScan({ command: "scan", params: { n: 2 }, totalProbes: 3 });
  await store.recordBatch(
    second.id,
    [
      probe("10.0.0.10", 445, "open"),
      probe("2001:db8::1", 445, "open"),
      probe("10.0.0.2", 135, "closed"),
    ],
    { step: 1, probesDone: 3, counts: {} },
  );
  await store.close();
  // OS fingerprints come from a later stage; set them the way it will, in the table.
  await sqlRows(path, "update assets set os = ?, os_confidence = ? where address = ?", [
    "Windows Server 2019",
    90,
    "10.0.0.2",
  ]);
  await sqlRows(path, "update assets set os = ? where address = ?", [
    "Windows 10 (100%_sure)",
    "10.0.0.10",
  ]);
  await sqlRows(path, "update assets set os = ? where address = ?", ["Linux 5.x", "2001:db8::1"]);
  store = await openStore(path);
});

afterAll(async () => {
  await store.close();
  await where.cleanup();
});

const addresses = (rows: { address: string }[]) => rows.map((row) => row.address);

describe("listHosts", () => {
  it("lists every asset in numeric address order, IPv4 before IPv6", async () => {
    const hosts = await store.listHosts();
    expect(addresses(hosts)).toEqual(["9.255.255.255", "10.0.0.2", "10.0.0.10", "2001:db8::1"]);
    expect(hosts[1]).toMatchObject({
      address: "10.0.0.2",
      family: "ipv4",
      hostnames: ["dc1"],
      os: "Windows Server 2019",
      osConfidence: 90,
      openPorts: ["tcp/445", "udp/137"],
    });
    expect(hosts[2]?.openPorts).toEqual(["tcp/445", "tcp/3389"]);
    expect(hosts[3]?.family).toBe("ipv6");
  });

  it("filters by port and protocol, meaning open unless a state is given", async () => {
    expect(addresses(await store.listHosts({ port: 135 }))).toEqual([]);
    expect(addresses(await store.listHosts({ port: 135, state: "closed" }))).toEqual(["10.0.0.2"]);
    expect(addresses(await store.listHosts({ port: 3389 }))).toEqual(["10.0.0.10"]);
    expect(addresses(await store.listHosts({ protocol: "udp" }))).toEqual(["10.0.0.2"]);
    expect(addresses(await store.listHosts({ port: 445, protocol: "udp" }))).toEqual([]);
    expect(addresses(await store.listHosts({ state: "open" }))).toHaveLength(4);
  });

  it("filters by OS, case-insensitively and with LIKE wildcards taken literally", async () => {
    expect(addresses(await store.listHosts({ os: "windows" }))).toEqual(["10.0.0.2", "10.0.0.10"]);
    expect(addresses(await store.listHosts({ os: "100%_" }))).toEqual(["10.0.0.10"]);
    expect(addresses(await store.listHosts({ os: "%" }))).toEqual(["10.0.0.10"]);
    expect(addresses(await store.listHosts({ os: "linux", port: 445 }))).toEqual(["2001:db8::1"]);
  });

  it("restricts to what one scan observed", async () => {
    const hosts = await store.listHosts({ scanId: first.id });
    expect(addresses(hosts)).toEqual(["9.255.255.255", "10.0.0.2", "10.0.0.10"]);
    // That scan saw 135 open on 10.0.0.2 and 445 closed on 10.0.0.10.
    expect(hosts[1]?.openPorts).toEqual(["tcp/135", "tcp/445", "udp/137"]);
    expect(hosts[2]?.openPorts).toEqual(["tcp/3389"]);
    expect(addresses(await store.listHosts({ scanId: second.id, port: 445 }))).toEqual([
      "10.0.0.10",
      "2001:db8::1",
    ]);
    expect(addresses(await store.listHosts({ scanId: first.id, port: 445 }))).toEqual([
      "9.255.255.255",
      "10.0.0.2",
    ]);
  });

  it("honours the limit after ordering", async () => {
    expect(addresses(await store.listHosts({ limit: 2 }))).toEqual(["9.255.255.255", "10.0.0.2"]);
  });
});

describe("listServices", () => {
  it("lists the latest state of every service, by address, protocol and port", async () => {
    const services = await store.listServices();
    expect(services.map((s) => `${s.address} ${s.protocol}/${s.port} ${s.state}`)).toEqual([
      "9.255.255.255 tcp/445 open",
      "10.0.0.2 tcp/135 closed",
      "10.0.0.2 tcp/445 open",
      "10.0.0.2 udp/137 open",
      "10.0.0.10 tcp/445 open",
      "10.0.0.10 tcp/3389 open",
      "2001:db8::1 tcp/445 open",
    ]);
    const netbios = services.find((s) => s.protocol === "udp");
    expect(netbios).toMatchObject({
      detail: { names: ["DC1"] },
      hostnames: ["dc1"],
      reason: "syn-ack",
    });
    expect(services.find((s) => s.address === "10.0.0.10" && s.port === 445)?.lastScanId).toBe(
      second.id,
    );
  });

  it("filters by port, protocol, state, OS and address", async () => {
    const keys = (rows: { address: string; port: number }[]) =>
      rows.map((row) => `${row.address}:${row.port}`);
    expect(keys(await store.listServices({ port: 445 }))).toEqual([
      "9.255.255.255:445",
      "10.0.0.2:445",
      "10.0.0.10:445",
      "2001:db8::1:445",
    ]);
    expect(keys(await store.listServices({ state: "closed" }))).toEqual(["10.0.0.2:135"]);
    expect(keys(await store.listServices({ protocol: "udp" }))).toEqual(["10.0.0.2:137"]);
    expect(keys(await store.listServices({ address: "10.0.0.10" }))).toEqual([
      "10.0.0.10:445",
      "10.0.0.10:3389",
    ]);
    expect(keys(await store.listServices({ address: "2001:db8::1" }))).toEqual(["2001:db8::1:445"]);
    // Exact: neither another spelling nor a name matches.
    expect(await store.listServices({ address: "2001:DB8::1" })).toEqual([]);
    expect(await store.listServices({ address: "dc1" })).toEqual([]);
    expect(keys(await store.listServices({ os: "server", protocol: "tcp" }))).toEqual([
      "10.0.0.2:135",
      "10.0.0.2:445",
    ]);
    expect(keys(await store.listServices({ limit: 1 }))).toEqual(["9.255.255.255:445"]);
  });

  it("shows what one scan saw, not the latest state", async () => {
    const seen = await store.listServices({ scanId: first.id, address: "10.0.0.10" });
    expect(seen.map((s) => `${s.port} ${s.state}`)).toEqual(["445 closed", "3389 open"]);
    expect(
      (await store.listServices({ scanId: first.id, state: "open", port: 135 })).map(
        (s) => s.address,
      ),
    ).toEqual(["10.0.0.2"]);
    // 10.0.0.100 never answered: observed, but not an asset, so not a service either.
    expect(await store.listServices({ scanId: first.id, address: "10.0.0.100" })).toEqual([]);
  });
});

describe("scanObservations", () => {
  it("returns every observation of the scan, including hosts that never answered", async () => {
    const rows = await store.scanObservations(first.id);
    expect(rows.map((r) => `${r.address} ${r.protocol}/${r.port} ${r.state}`)).toEqual([
      "9.255.255.255 tcp/445 open",
      "10.0.0.2 tcp/135 open",
      "10.0.0.2 tcp/445 open",
      "10.0.0.2 udp/137 open",
      "10.0.0.10 tcp/445 closed",
      "10.0.0.10 tcp/3389 open",
      "10.0.0.100 tcp/445 filtered",
    ]);
    expect(rows[0]).toMatchObject({
      scanId: first.id,
      reason: "syn-ack",
      rttMs: 1.25,
      detail: null,
    });
    expect(rows[6]?.rttMs).toBeNull();
  });
});
