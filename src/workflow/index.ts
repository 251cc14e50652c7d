/**
 * The remediation workflow (issue 7 item 1): per finding, detected → quarantined → shielded →
 * patched → verified → closed, with risk-accepted and reopened beside them, each step gated by
 * evidence (evidence-rules.ts) and written with its audit entry.
 */
export {
  applyTransition,
  applyTransitions,
  decideFor,
  findingState,
  normaliseInstant,
  type TransitionRequest,
} from "./apply-transition.js";
export { evaluateFindings, type EvaluationOutcome } from "./evaluate-findings.js";
export {
  ALLOWED_FROM,
  controlCovers,
  decideTransition,
  sameAddress,
  type AttestationSource,
  type CurrentState,
  type Decision,
  type Evidence,
  type FindingIdentity,
  type NextState,
  type TransitionContext,
} from "./evidence-rules.js";
export { evidenceSchema, parseEvidence } from "./evidence-schema.js";
export {
  workflowStatus,
  type Clock,
  type DeadlineItem,
  type RatingOrUnrated,
  type WorkflowStatus,
} from "./workflow-status.js";
