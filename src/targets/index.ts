/** What to scan: target expressions -> TargetSpace, ports, and the order probes are sent in. */
export type { AddressFamily, ParsedAddress } from "./address.js";
export { formatAddress, parseAddress } from "./address.js";
export type { AddressRange } from "./address-range.js";
export {
  formatRange,
  intersectRanges,
  normalizeRanges,
  rangesContain,
  subtractRanges,
  totalSize,
  unionRanges,
} from "./address-range.js";
export type { TargetExpression } from "./target-expression.js";
export { parseRangeExpression, parseTargetExpression } from "./target-expression.js";
export type { Resolver, TargetSpaceInput } from "./target-space.js";
export { buildTargetSpace, TargetSpace } from "./target-space.js";
export type { CyclicOrderParams } from "./cyclic-order.js";
export { CyclicOrder } from "./cyclic-order.js";
export type { PortSpec } from "./ports.js";
export { DEFAULT_PORTS, formatPortSpec, parsePortSpec } from "./ports.js";
