// Builds the native probe engine with node-gyp. ringfence still works without it (the pure-JS
// engine takes over), so a failed build is a loud warning, not a failed install.
import { spawnSync } from "node:child_process";
import { platform } from "node:process";

if (platform !== "linux") {
  console.warn("ringfence: the native probe engine is Linux-only; using the JavaScript engine.");
  process.exit(0);
}
const result = spawnSync("node-gyp", ["rebuild", "--release"], { stdio: "inherit", shell: false });
if (result.status !== 0) {
  console.warn(
    "ringfence: WARNING: building the native probe engine failed (needs python3, make, g++ and " +
      "Node's headers). Scans fall back to the slower JavaScript engine. Fix the toolchain, then " +
      "run `npm run build:native`.",
  );
}
