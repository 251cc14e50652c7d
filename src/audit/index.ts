/**
 * The audit trail (issue 7 item 2): an append-only, hash-chained log in the store (schema 5) of
 * every transition, assessment and control; verified here, exported as JSONL.
 */
export {
  verifyAuditChain,
  type AuditChainProblem,
  type AuditChainResult,
} from "./verify-audit-chain.js";
export { auditEntryHash, GENESIS_HASH } from "../store/index.js";
export { auditJsonl, AUDIT_EXPORT_FORMATS, type AuditExportFormat } from "./audit-export.js";
