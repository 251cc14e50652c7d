import type { PortState, Protocol } from "../scan/observation.js";

/** The result formats `ringfence import` reads. */
export const IMPORT_FORMATS = ["nmap-xml", "masscan-json", "masscan-xml", "masscan-list"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** What another scanner said about one port: the observation we record, in our vocabulary. */
export interface ImportedPort {
  readonly protocol: Protocol;
  readonly port: number;
  readonly state: PortState;
  /** nmap's --reason word (syn-ack, conn-refused, reset, no-response, ...), "unknown" if absent. */
  readonly reason: string;
  /** nmap's <service> name/product/version, or masscan's banner service name. */
  readonly service?: {
    readonly name: string;
    readonly product?: string;
    readonly version?: string;
    readonly extrainfo?: string;
  };
}

export interface ImportedHost {
  /** Canonical IPv4/IPv6 text. */
  readonly address: string;
  readonly hostnames: readonly string[];
  readonly ports: readonly ImportedPort[];
  /** nmap's best <osmatch>, when the file has one. */
  readonly os?: { readonly name: string; readonly accuracy: number };
}

/** One result file, read and normalised, before anything is stored. */
export interface ImportedScan {
  readonly format: ImportFormat;
  /** "nmap", "masscan", or ringfence itself when it reads back its own nmap XML. */
  readonly scanner: string;
  readonly scannerVersion: string | null;
  /** The command line the file records (nmap's args), if any. */
  readonly args: string | null;
  /** ISO instant the file says the scan started, if it says. */
  readonly startedAt: string | null;
  /** Sorted by address (numeric), ports by protocol then port; one entry per address. */
  readonly hosts: readonly ImportedHost[];
  /** Ports whose state has no equivalent in our vocabulary (nmap's "unfiltered"), not imported. */
  readonly skippedPorts: number;
}
