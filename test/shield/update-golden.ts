/**
 * Rewrites the conformance suite's expected outputs from the generators (test/shield/expected/).
 * Run it only after changing a generator on purpose, then read every diff before committing:
 *   npx tsx test/shield/update-golden.ts
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GENERATORS, TARGETS, UnrenderableTermError } from "../../src/shield/index.js";
import { CASES } from "./conformance-cases.js";

const root = join(import.meta.dirname, "expected");
rmSync(root, { recursive: true, force: true });
const refusals: Record<string, { term: string; reason: string }> = {};
for (const c of CASES) {
  mkdirSync(join(root, c.name), { recursive: true });
  for (const target of TARGETS) {
    try {
      for (const file of GENERATORS[target].render(c.policy))
        writeFileSync(join(root, c.name, `${target}--${file.name}`), file.content);
    } catch (error) {
      if (!(error instanceof UnrenderableTermError)) throw error;
      refusals[`${c.name}/${target}`] = { term: error.term, reason: error.reason };
    }
  }
}
writeFileSync(join(root, "refusals.json"), JSON.stringify(refusals, null, 2) + "\n");
