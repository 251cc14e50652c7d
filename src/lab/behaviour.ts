import type { NetbiosBehaviour, Persona } from "./personas.js";

export type LabMode = "netns" | "bind";

/** What one TCP port of one host does on the wire. */
export type TcpBehaviour = "open" | "closed" | "filtered";

/**
 * What a persona actually does in a given mode. The ground truth, the nftables ruleset and the
 * daemon's listeners are all derived from this one function so they cannot disagree.
 */
export interface HostBehaviour {
  readonly tcp: ReadonlyMap<number, TcpBehaviour>;
  readonly udp137: NetbiosBehaviour;
  readonly elsewhere: "closed" | "filtered";
  /** Why the mode cannot show the persona as designed, if it cannot. */
  readonly degraded: string | null;
}

const cache = new Map<string, HostBehaviour>();

/**
 * netns mode shows every persona faithfully (nftables drops or resets per address). bind mode has
 * no firewall: a port is open when a listener is bound and closed otherwise, so dropped ports and
 * dropped hosts degrade to closed, and a shielded host degrades to "nothing open".
 */
export function behaviourOf(
  persona: Persona,
  mode: LabMode,
  tcpPorts: readonly number[],
): HostBehaviour {
  const key = `${persona.id}/${mode}/${tcpPorts.join(",")}`;
  const known = cache.get(key);
  if (known !== undefined) return known;
  const canDrop = mode === "netns";
  const tcp = new Map<number, TcpBehaviour>();
  for (const port of tcpPorts) {
    if (persona.tcpOpen.includes(port)) tcp.set(port, "open");
    else if (persona.tcpFiltered.includes(port) || persona.elsewhere === "filtered")
      tcp.set(port, canDrop ? "filtered" : "closed");
    else tcp.set(port, "closed");
  }
  const drops =
    persona.tcpFiltered.length > 0 ||
    persona.udp137 === "filtered" ||
    persona.elsewhere === "filtered";
  const behaviour: HostBehaviour = {
    tcp,
    udp137: persona.udp137 === "filtered" && !canDrop ? "closed" : persona.udp137,
    elsewhere: canDrop ? persona.elsewhere : "closed",
    degraded:
      drops && !canDrop
        ? "bind mode has no firewall: ports this persona drops are closed (RST / ICMP port unreachable) instead"
        : null,
  };
  cache.set(key, behaviour);
  return behaviour;
}
