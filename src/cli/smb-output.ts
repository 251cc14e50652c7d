import type { SmbFingerprint } from "../smb/fingerprint.js";

/**
 * Text for one SMB/NetBIOS fingerprint, shared by `ringfence check` and `ringfence host`: the OS
 * with its confidence and evidence first (what a responder needs), then the facts it rests on.
 * `fp` may come from the store (parsed JSON), so every field is read defensively.
 */
/** NetBIOS names may hold control bytes (\u0001\u0002__MSBROWSE__\u0002): shown as "." like nmblookup. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, ".");
}

export function renderSmbFingerprint(fp: SmbFingerprint, indent = "  "): string[] {
  const lines: string[] = [];
  const add = (label: string, value: string | null | undefined) => {
    if (value !== null && value !== undefined && value !== "")
      lines.push(`${indent}${label.padEnd(18)}${value}`);
  };
  const os = fp.os;
  add(
    "OS",
    os?.label
      ? `${os.label} (confidence ${os.confidence}%${os.ms03026Range === "affected" ? ", in MS03-026's affected range" : ""})`
      : "unknown",
  );
  for (const item of os?.evidence ?? [])
    add("  evidence", `${item.source} ${JSON.stringify(item.value)}: ${item.contributes}`);
  for (const conflict of os?.conflicts ?? []) add("  conflict", conflict);
  if ((os?.candidates ?? []).length > 0) add("  or", os.candidates.join(", "));
  const via =
    fp.port === null
      ? null
      : fp.port === 139
        ? `TCP 139 (NetBIOS session, called ${fp.netbiosCalledName ?? "?"})`
        : `TCP ${fp.port}`;
  add("SMB via", via);
  add(
    "dialects",
    (fp.dialects ?? [])
      .map((d) => `${d.dialect} ${d.accepted === true ? "yes" : d.accepted === false ? "no" : "?"}`)
      .join(", "),
  );
  if (fp.signing?.state)
    add("signing", `${fp.signing.state} (${fp.signing.at === "smb2" ? "SMB2/3" : "SMB1"})`);
  add("server GUID", fp.serverGuid);
  add("system time", fp.systemTime);
  add("boot time", fp.bootTime);
  if (fp.smb2 !== null && fp.smb2 !== undefined) {
    add("SMB2 capabilities", `${fp.smb2.capabilities} ${fp.smb2.capabilityNames.join(" ")}`);
  }
  if (fp.compression?.offered !== null && fp.compression?.offered !== undefined) {
    add(
      "compression",
      fp.compression.offered ? fp.compression.algorithms.join(", ") : "not offered",
    );
  }
  if (fp.smb1 !== null && fp.smb1 !== undefined) {
    add("NativeOS", fp.smb1.nativeOs);
    add("NativeLanMan", fp.smb1.nativeLanMan);
    add("PrimaryDomain", fp.smb1.primaryDomain);
    add("SMB1 capabilities", `${fp.smb1.capabilities} ${fp.smb1.capabilityNames.join(" ")}`);
  }
  const ntlm = fp.ntlm;
  if (ntlm !== null && ntlm !== undefined) {
    add(`NTLM (${ntlm.source})`, ntlm.version === null ? "no VERSION" : `version ${ntlm.version}`);
    add("  NetBIOS name", ntlm.nbComputerName);
    add("  NetBIOS domain", ntlm.nbDomainName);
    add("  DNS name", ntlm.dnsComputerName);
    add("  DNS domain", ntlm.dnsDomainName);
    add("  DNS tree", ntlm.dnsTreeName);
    add("  timestamp", ntlm.timestamp);
  }
  if (fp.nbstat !== null && fp.nbstat !== undefined) {
    add(
      "NBSTAT",
      fp.nbstat.names
        .map(
          (n) =>
            `${printable(n.name)}<${n.suffix.toString(16).padStart(2, "0")}>${n.group ? " (group)" : ""}`,
        )
        .join(", "),
    );
    add("  MAC", fp.nbstat.mac);
  }
  for (const failure of fp.failures ?? []) add("failure", `${failure.step}: ${failure.message}`);
  return lines;
}
