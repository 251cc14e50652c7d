#!/usr/bin/env node
import { main } from "../dist/cli/main.js";

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // main() maps every known error to a one-line message; reaching here is a bug.
    console.error(`ringfence: internal error: ${error?.stack ?? error}`);
    process.exitCode = 70;
  },
);
