import { statSync } from "node:fs";

/**
 * Whether this process shares the network namespace of PID 1. A namespace is identified by the
 * device and inode of its /proc/PID/ns/net link (namespaces(7)). When we cannot tell (no /proc,
 * /proc/1 hidden from us) we answer yes: the caller uses this to refuse traffic that would leave
 * the machine, and the safe mistake is to refuse. Inside a container that has its own PID
 * namespace, PID 1 shares our namespace, so that answer is yes as well: the safe direction again.
 */
export function isInitialNetworkNamespace(): boolean {
  try {
    const self = statSync("/proc/self/ns/net");
    const init = statSync("/proc/1/ns/net");
    return self.ino === init.ino && self.dev === init.dev;
  } catch {
    return true;
  }
}
