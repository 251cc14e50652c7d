import { readFileSync, statSync } from "node:fs";

/**
 * The inode of the initial network namespace on kernels that give it a fixed one
 * (include/linux/proc_ns.h PROC_NET_INIT_INO). Dynamically allocated namespace inodes start at
 * 0xF0000000, so a namespace with this inode can only be the initial one.
 */
const PROC_NET_INIT_INO = 0xeffffff9;

function parentOf(pid: string): string | undefined {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
  const ppid = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
  return ppid === undefined || ppid === "0" ? undefined : ppid;
}

/**
 * The initial namespace's link when PID 1's is hidden from us: the namespace of an ancestor
 * process that has the fixed inode of the initial one (kernels that have it), if any.
 */
function initialFromAncestors(): { ino: number; dev: number } | undefined {
  let pid = parentOf("self");
  for (let depth = 0; pid !== undefined && depth < 64; depth++) {
    try {
      const ns = statSync(`/proc/${pid}/ns/net`);
      if (ns.ino === PROC_NET_INIT_INO) return ns;
    } catch {
      // hidden from us: keep climbing
    }
    pid = parentOf(pid);
  }
  return undefined;
}

/**
 * Whether this process shares the network namespace of PID 1. A namespace is identified by the
 * device and inode of its /proc/PID/ns/net link (namespaces(7)). When PID 1's link is hidden
 * (a sandbox), an ancestor process whose namespace has the fixed inode of the initial namespace
 * identifies it instead. When we cannot tell (no /proc, nothing visible) we answer yes: the
 * caller uses this to refuse traffic that would leave the machine, and the safe mistake is to
 * refuse. Inside a container that has its own PID namespace, PID 1 shares our namespace, so that
 * answer is yes as well: the safe direction again.
 */
export function isInitialNetworkNamespace(): boolean {
  try {
    const self = statSync("/proc/self/ns/net");
    if (self.ino === PROC_NET_INIT_INO) return true;
    let init: { ino: number; dev: number } | undefined;
    try {
      init = statSync("/proc/1/ns/net");
    } catch {
      init = initialFromAncestors();
    }
    if (init === undefined) return true;
    return self.ino === init.ino && self.dev === init.dev;
  } catch {
    return true;
  }
}
