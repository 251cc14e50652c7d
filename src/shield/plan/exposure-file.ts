/**
 * A plain exposure list, for shielding without a scan database (an nmap export turned into YAML,
 * a list from another team):
 *
 *   schema: ringfence.exposures/1        # optional
 *   exposures:
 *     - { host: 203.0.113.10, proto: tcp, port: 135 }
 *     - { host: 203.0.113.11, proto: tcp, port: 445, advisory: ms17-010 }
 *     - { host: 203.0.113.12, proto: tcp, port: 135, role: domain-controller }
 *     - { host: 203.0.113.13, proto: tcp, port: 4444, advisory: blaster-backdoor, quarantine: true }
 *
 * An entry without `advisory` takes the plan's `--advisory` values. Every entry also counts as an
 * open service, so a listed TCP 80 or 443 on an affected host is flagged (RPC over HTTP).
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { fileError, fsReason, parseYamlFile, type FileKind } from "../../advisories/index.js";
import { parseAddress } from "../../targets/index.js";
import type { Exposure, OpenService } from "./plan-builder.js";

export const EXPOSURE_FILE: FileKind = {
  code: "RINGFENCE_SHIELD_FILE",
  kind: "exposure file",
  hint: "an exposure file lists { host, proto, port[, advisory, role, quarantine] } under exposures:",
};

const Entry = z.strictObject({
  host: z.string().refine((h) => parseAddress(h.trim()) !== undefined, {
    error: "expected an IPv4 or IPv6 address",
  }),
  proto: z.enum(["tcp", "udp"]),
  port: z.number().int().min(0).max(65535),
  advisory: z.string().min(1).optional(),
  role: z.literal("domain-controller").optional(),
  quarantine: z.boolean().optional(),
});

const ExposureDocument = z.union([
  z.strictObject({
    schema: z.literal("ringfence.exposures/1").optional(),
    exposures: z.array(Entry),
  }),
  z.array(Entry),
]);

export interface ExposureList {
  readonly exposures: readonly Exposure[];
  readonly services: readonly OpenService[];
}

/**
 * `defaultAdvisories` are used for entries without one; an entry with neither is an error
 * naming its line.
 */
export function parseExposureText(
  text: string,
  file: string,
  defaultAdvisories: readonly string[],
): ExposureList {
  const { value, located } = parseYamlFile(text, file, ExposureDocument, EXPOSURE_FILE);
  const entries = Array.isArray(value) ? value : value.exposures;
  const prefix = Array.isArray(value) ? [] : ["exposures"];
  const exposures: Exposure[] = [];
  const services: OpenService[] = [];
  entries.forEach((entry, index) => {
    services.push({ address: entry.host.trim(), proto: entry.proto, port: entry.port });
    const advisories = entry.advisory !== undefined ? [entry.advisory] : defaultAdvisories;
    if (advisories.length === 0) {
      const line = located.lineOf([...prefix, index]);
      throw fileError(EXPOSURE_FILE, [
        {
          file,
          path: `${prefix.length > 0 ? "exposures" : ""}[${index}]`,
          ...(line === undefined ? {} : { line }),
          reason: "no advisory: name one on the entry, or pass --advisory",
        },
      ]);
    }
    for (const advisory of advisories)
      exposures.push({
        address: entry.host.trim(),
        advisory,
        ...(entry.role === undefined ? {} : { role: entry.role }),
        ...(entry.quarantine === true ? { quarantine: "exposure list: quarantine" } : {}),
      });
  });
  return { exposures, services };
}

export async function readExposureFile(
  path: string,
  defaultAdvisories: readonly string[],
): Promise<ExposureList> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw fileError(EXPOSURE_FILE, [
      { file: path, path: "", reason: `cannot read: ${fsReason(error)}` },
    ]);
  }
  return parseExposureText(text, path, defaultAdvisories);
}
