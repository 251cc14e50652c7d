/** Where a run may send probes: the authorized scope and the error for stepping outside it. */
export type { Scope, ScopeDefinition, ScopeOptions } from "./scope.js";
export { createScope, defaultScope, LAB_RANGE, scopeViolation, TEST_NET_RANGES } from "./scope.js";
export { loadScope, parseScopeFile } from "./scope-file.js";
export { isInitialNetworkNamespace } from "./network-namespace.js";
