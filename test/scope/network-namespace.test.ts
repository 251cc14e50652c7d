import { beforeEach, describe, expect, it, vi } from "vitest";

const statSync = vi.fn();
const readFileSync = vi.fn();
vi.mock("node:fs", () => ({ statSync, readFileSync }));

const { isInitialNetworkNamespace } = await import("../../src/scope/network-namespace.js");

describe("isInitialNetworkNamespace", () => {
  beforeEach(() => {
    statSync.mockReset();
    readFileSync.mockReset();
  });

  it("compares the namespace links of this process and PID 1", () => {
    statSync.mockImplementation((path: string) => ({
      dev: 4,
      ino: path === "/proc/self/ns/net" ? 4026532000 : 4026531840,
    }));
    expect(isInitialNetworkNamespace()).toBe(false);
    expect(statSync).toHaveBeenCalledWith("/proc/self/ns/net");
    expect(statSync).toHaveBeenCalledWith("/proc/1/ns/net");
    statSync.mockImplementation(() => ({ dev: 4, ino: 4026531840 }));
    expect(isInitialNetworkNamespace()).toBe(true);
  });

  it("assumes the initial namespace when /proc/1 cannot be read", () => {
    statSync.mockImplementation((path: string) => {
      if (path === "/proc/1/ns/net") throw Object.assign(new Error("EACCES"), { code: "EACCES" });
      return { dev: 4, ino: 4026532000 };
    });
    expect(isInitialNetworkNamespace()).toBe(true);
  });

  it("without /proc/1, an ancestor in the fixed-inode initial namespace identifies it", () => {
    // self (in a namespace) ← 700 (hidden) ← 600 (the initial namespace: 0xEFFFFFF9).
    const parents: Record<string, string> = { self: "700", "700": "600", "600": "1" };
    readFileSync.mockImplementation((path: string) => {
      const pid = path.split("/")[2]!;
      return `${pid} (a (b) c) S ${parents[pid] ?? "0"} 1 1`;
    });
    const links: Record<string, number> = {
      "/proc/self/ns/net": 4026532000,
      "/proc/600/ns/net": 0xeffffff9,
    };
    statSync.mockImplementation((path: string) => {
      const ino = links[path];
      if (ino === undefined) throw Object.assign(new Error("EACCES"), { code: "EACCES" });
      return { dev: 4, ino };
    });
    expect(isInitialNetworkNamespace()).toBe(false);
    // In the initial namespace itself: yes, whatever the ancestors.
    links["/proc/self/ns/net"] = 0xeffffff9;
    expect(isInitialNetworkNamespace()).toBe(true);
    // No ancestor with the fixed inode visible: the safe answer.
    links["/proc/self/ns/net"] = 4026532000;
    delete links["/proc/600/ns/net"];
    expect(isInitialNetworkNamespace()).toBe(true);
  });
});
