import { beforeEach, describe, expect, it, vi } from "vitest";

const statSync = vi.fn();
vi.mock("node:fs", () => ({ statSync }));

const { isInitialNetworkNamespace } = await import("../../src/scope/network-namespace.js");

describe("isInitialNetworkNamespace", () => {
  beforeEach(() => statSync.mockReset());

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
});
