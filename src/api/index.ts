/** The REST API: `buildApiServer` for `ringfence serve` and the tests; tokens for the CLI. */
export { buildApiServer, type ApiServer, type ApiServerOptions } from "./api-server.js";
export { API_ROUTES } from "./api-routes.js";
export type { ApiRoute } from "./route-kit.js";
export {
  checkTokenName,
  hashToken,
  issueToken,
  parseRole,
  publicToken,
  verifyToken,
} from "./api-tokens.js";
export { PROBLEM_CONTENT_TYPE } from "./problem.js";
