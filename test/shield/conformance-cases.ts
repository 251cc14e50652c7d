/**
 * The policies every generator is run over (the hono way: one suite, every implementation).
 * Each case exercises a construct the issue names: IPv4+IPv6 mixes, port ranges, many hosts,
 * names and comments with quotes, semicolons, newlines and backslashes, and the constructs some
 * targets must refuse (reject, logging, forward or host terms, stateless, every-protocol carves).
 */
import {
  addressSet,
  createPolicy,
  service,
  term,
  zone,
  type PolicyNode,
} from "../../src/shield/index.js";

export interface ConformanceCase {
  readonly name: string;
  readonly what: string;
  readonly policy: PolicyNode;
}

const internet = zone("internet", ["198.51.100.0/24", "2001:db8:100::/48"], "outside");
const mgmt = zone("mgmt", ["10.9.0.0/24"], "management network");
const rpcTcp = service("rpc-tcp", "tcp", [135, 139, 445, 593, 4444]);
const rpcUdp = service("rpc-udp", "udp", [69, 135, "137-138", 445]);

/** Host firewall, IPv4: allow from management, block the advisory ports in, egress block out. */
const hostBasic = createPolicy({
  name: "host-basic",
  comment: "MS03-026 shield for two hosts",
  stance: { in: "unset", out: "unset", forward: "unset" },
  zones: [internet, mgmt],
  addressSets: [addressSet("affected", ["203.0.113.10", "203.0.113.11"], "vulnerable hosts")],
  services: [rpcTcp, rpcUdp, service("smb", "tcp", [445]), service("egress", "tcp", [135, 4444])],
  terms: [
    term({
      name: "allow-mgmt",
      action: "accept",
      direction: "in",
      from: ["mgmt"],
      to: ["affected"],
      services: ["smb"],
      comment: "management keeps 445",
    }),
    term({
      name: "block-in",
      action: "drop",
      direction: "in",
      to: ["affected"],
      services: ["rpc-tcp", "rpc-udp"],
      comment: "MS03-026 ports",
    }),
    term({
      name: "block-out",
      action: "drop",
      direction: "out",
      from: ["affected"],
      services: ["egress"],
      comment: "worm propagation",
    }),
  ],
});

/** IPv4 and IPv6 together, port ranges, a default-deny inbound stance, an any/any term. */
const mixedFamilies = createPolicy({
  name: "mixed",
  stance: { in: "deny", out: "unset", forward: "unset" },
  zones: [internet, zone("lan6", ["fd00:1::/64"])],
  addressSets: [
    addressSet("hosts", ["203.0.113.20", "2001:db8::20", "2001:db8::21"]),
    addressSet("v4-only", ["203.0.113.30-203.0.113.37"]),
  ],
  services: [
    service("web", "tcp", [80, 443]),
    service("high", "tcp", ["1024-65535"]),
    service("netbios", "udp", ["137-139"]),
  ],
  terms: [
    term({
      name: "lan6-web",
      action: "accept",
      direction: "in",
      from: ["lan6"],
      to: ["hosts"],
      services: ["web"],
    }),
    term({
      name: "web-any",
      action: "accept",
      direction: "in",
      to: ["hosts", "v4-only"],
      services: ["web"],
    }),
    term({
      name: "netbios",
      action: "drop",
      direction: "in",
      from: ["internet"],
      services: ["netbios"],
    }),
    term({ name: "high-ports", action: "accept", direction: "in", services: ["high"] }),
  ],
});

/** A perimeter firewall: forward terms, logging, default deny for routed traffic. */
const perimeter = createPolicy({
  name: "perimeter",
  stance: { in: "unset", out: "unset", forward: "deny" },
  zones: [internet, mgmt],
  addressSets: [addressSet("dmz", ["203.0.113.128/25"])],
  services: [rpcTcp, rpcUdp, service("web", "tcp", [80, 443])],
  terms: [
    term({
      name: "allow-mgmt",
      action: "accept",
      direction: "forward",
      from: ["mgmt"],
      to: ["dmz"],
      services: ["rpc-tcp"],
    }),
    term({
      name: "block-rpc",
      action: "drop",
      direction: "forward",
      from: ["internet"],
      services: ["rpc-tcp", "rpc-udp"],
      log: true,
      comment: "MS03-026 at the border",
    }),
    term({
      name: "web-in",
      action: "accept",
      direction: "forward",
      from: ["internet"],
      to: ["dmz"],
      services: ["web"],
    }),
    term({ name: "dmz-out", action: "accept", direction: "forward", from: ["dmz"] }),
  ],
});

/** The same perimeter without connection tracking (what an IOS ACL can say). */
const stateless = createPolicy({
  name: "acl",
  stateful: false,
  stance: { in: "unset", out: "unset", forward: "unset" },
  zones: [internet],
  addressSets: [addressSet("dmz", ["203.0.113.128/25", "2001:db8:200::/64"])],
  services: [rpcTcp, rpcUdp],
  terms: [
    term({
      name: "block-rpc",
      action: "drop",
      direction: "forward",
      from: ["internet"],
      to: ["dmz"],
      services: ["rpc-tcp", "rpc-udp"],
      comment: "border ACL",
    }),
  ],
});

/** Quarantine with reject, every protocol: targets without reject or with partial reject refuse. */
const rejectAny = createPolicy({
  name: "quarantine",
  stance: { in: "unset", out: "unset", forward: "unset" },
  zones: [internet, mgmt],
  addressSets: [addressSet("quarantined", ["203.0.113.66", "2001:db8::66"])],
  services: [service("rdp", "tcp", [3389])],
  terms: [
    term({
      name: "mgmt-rdp",
      action: "accept",
      direction: "in",
      from: ["mgmt"],
      to: ["quarantined"],
      services: ["rdp"],
    }),
    term({
      name: "cut-in",
      action: "reject",
      direction: "in",
      from: ["internet"],
      to: ["quarantined"],
      comment: "disconnect until patched",
    }),
    term({
      name: "cut-out",
      action: "reject",
      direction: "out",
      from: ["quarantined"],
      to: ["internet"],
    }),
  ],
});

/** Forty scattered hosts and a port list longer than iptables multiport's fifteen slots. */
const manyHosts = createPolicy({
  name: "many",
  stance: { in: "unset", out: "unset", forward: "unset" },
  addressSets: [
    addressSet(
      "fleet",
      Array.from({ length: 40 }, (_, i) => `203.0.113.${((i * 5) % 250) + 1}`),
    ),
  ],
  services: [
    service("lots", "tcp", [
      21,
      23,
      25,
      53,
      110,
      111,
      135,
      137,
      139,
      143,
      445,
      593,
      1025,
      1433,
      "5000-5010",
      4444,
      6129,
    ]),
  ],
  terms: [
    term({
      name: "block-lots",
      action: "drop",
      direction: "in",
      to: ["fleet"],
      services: ["lots"],
    }),
  ],
});

/** Comments a hostile PTR record or ticket could carry: nothing may escape its string. */
const hostileComments = createPolicy({
  name: "hostile",
  comment: 'policy "x"; rm -rf / #\nnext line\\',
  stance: { in: "unset", out: "unset", forward: "unset" },
  addressSets: [addressSet("hosts", ["203.0.113.99"], "host 'evil'; DROP TABLE\r\n")],
  services: [service("smb", "tcp", [445], 'say "hi"')],
  terms: [
    term({
      name: "q1",
      action: "drop",
      direction: "in",
      to: ["hosts"],
      services: ["smb"],
      comment: `quote " single ' semi ; hash # dollar $(id) back\`tick\` backslash \\ percent %PATH% bang ! caret ^ amp & pipe | lt < gt > question ? brace {x} newline\nafter tab\tend smart ‘quote’ “dq” é`,
    }),
  ],
});

/** Windows can carve an allow out of a TCP-only drop, not out of an every-protocol drop. */
const windowsCarve = createPolicy({
  name: "carve",
  stance: { in: "unset", out: "unset", forward: "unset" },
  zones: [mgmt],
  addressSets: [addressSet("host", ["203.0.113.5"])],
  services: [service("rdp", "tcp", [3389]), service("all-tcp", "tcp")],
  terms: [
    term({
      name: "mgmt-rdp",
      action: "accept",
      direction: "in",
      from: ["mgmt"],
      to: ["host"],
      services: ["rdp"],
    }),
    term({ name: "no-tcp", action: "drop", direction: "in", to: ["host"], services: ["all-tcp"] }),
  ],
});

const windowsCarveAny = createPolicy({
  name: "carve-any",
  stance: { in: "unset", out: "unset", forward: "unset" },
  zones: [mgmt],
  addressSets: [addressSet("host", ["203.0.113.5"])],
  services: [service("rdp", "tcp", [3389])],
  terms: [
    term({
      name: "mgmt-rdp",
      action: "accept",
      direction: "in",
      from: ["mgmt"],
      to: ["host"],
      services: ["rdp"],
    }),
    term({ name: "isolate", action: "drop", direction: "in", to: ["host"] }),
  ],
});

/**
 * The same policy for a router: every term forward, the stances moved to forward, with or
 * without connection tracking (an IOS ACL needs none, an SRX always tracks).
 */
function routed(policy: PolicyNode, name: string, stateful: boolean): PolicyNode {
  return createPolicy({
    name,
    ...(policy.comment === undefined ? {} : { comment: policy.comment }),
    stateful,
    stance: { in: "unset", out: "unset", forward: policy.stance.in },
    zones: policy.zones,
    addressSets: policy.addressSets,
    services: policy.services,
    terms: policy.terms.map((t) =>
      term({
        name: t.name,
        action: t.action,
        direction: "forward",
        from: t.from,
        to: t.to,
        services: t.services,
        log: t.log,
        ...(t.comment === undefined ? {} : { comment: t.comment }),
      }),
    ),
  });
}

/** Reject on TCP and UDP services only, for a router (an SRX rejects those exactly). */
const rejectServices = createPolicy({
  name: "reject-svc",
  stance: { in: "unset", out: "unset", forward: "allow" },
  zones: [internet],
  addressSets: [addressSet("dmz", ["203.0.113.128/25"])],
  services: [rpcTcp, rpcUdp],
  terms: [
    term({
      name: "refuse-rpc",
      action: "reject",
      direction: "forward",
      from: ["internet"],
      to: ["dmz"],
      services: ["rpc-tcp", "rpc-udp"],
      log: true,
    }),
  ],
});

export const CASES: readonly ConformanceCase[] = [
  {
    name: "host-basic",
    what: "host firewall, IPv4, allow ahead of blocks, egress",
    policy: hostBasic,
  },
  {
    name: "mixed-families",
    what: "IPv4+IPv6, port ranges, default deny in, any/any",
    policy: mixedFamilies,
  },
  {
    name: "perimeter",
    what: "forward terms, logging, default deny for routed traffic",
    policy: perimeter,
  },
  { name: "stateless", what: "stateless forward ACL, IPv4+IPv6", policy: stateless },
  { name: "reject-any", what: "reject on every protocol, both directions", policy: rejectAny },
  {
    name: "many-hosts",
    what: "40 scattered hosts, 17 ports (multiport chunks)",
    policy: manyHosts,
  },
  {
    name: "hostile-comments",
    what: "quotes, semicolons, newlines, backslashes in comments",
    policy: hostileComments,
  },
  { name: "windows-carve", what: "allow carved out of a TCP drop", policy: windowsCarve },
  {
    name: "windows-carve-any",
    what: "allow carved out of an every-protocol drop",
    policy: windowsCarveAny,
  },
  {
    name: "mixed-families-routed",
    what: "IPv4+IPv6 and port ranges on a stateful router",
    policy: routed(mixedFamilies, "mixed-srx", true),
  },
  {
    name: "perimeter-acl",
    what: "the perimeter without conntrack, logging",
    policy: routed(
      createPolicy({
        ...perimeter,
        stance: { in: "deny", out: "unset", forward: "unset" },
        terms: perimeter.terms,
      }),
      "perimeter-acl",
      false,
    ),
  },
  {
    name: "many-hosts-acl",
    what: "40 hosts, 17 ports, stateless router",
    policy: routed(manyHosts, "many-acl", false),
  },
  {
    name: "hostile-comments-acl",
    what: "hostile comments, stateless router",
    policy: routed(hostileComments, "hostile-acl", false),
  },
  {
    name: "hostile-comments-srx",
    what: "hostile comments, stateful router",
    policy: routed(hostileComments, "hostile-srx", true),
  },
  {
    name: "reject-services",
    what: "reject TCP and UDP services on a router, logged",
    policy: rejectServices,
  },
  {
    name: "reject-services-acl",
    what: "reject on a stateless router",
    policy: routed(
      createPolicy({
        ...rejectServices,
        stance: { in: "allow", out: "unset", forward: "unset" },
        terms: rejectServices.terms,
      }),
      "reject-acl",
      false,
    ),
  },
];
