/** The firewall generators, one per target, behind FirewallGenerator. */
import { ciscoIosGenerator } from "./cisco-ios-generator.js";
import type { FirewallGenerator, TargetId } from "./generator.js";
import { iptablesGenerator } from "./iptables-generator.js";
import { junosGenerator } from "./junos-generator.js";
import { nftablesGenerator } from "./nftables-generator.js";
import { pfGenerator } from "./pf-generator.js";
import { windowsNetshGenerator, windowsPowerShellGenerator } from "./windows-generators.js";

export const GENERATORS: Readonly<Record<TargetId, FirewallGenerator>> = Object.freeze({
  nftables: nftablesGenerator,
  iptables: iptablesGenerator,
  pf: pfGenerator,
  "cisco-ios": ciscoIosGenerator,
  junos: junosGenerator,
  "windows-ps": windowsPowerShellGenerator,
  "windows-netsh": windowsNetshGenerator,
});

export {
  TARGETS,
  WINDOWS_PROFILES,
  encodeText,
  type FirewallGenerator,
  type RenderedFile,
  type RenderOptions,
  type TargetId,
  type WindowsProfile,
} from "./generator.js";
export { renderNftables } from "./nftables-generator.js";
export { renderIptables } from "./iptables-generator.js";
