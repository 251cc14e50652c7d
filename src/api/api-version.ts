import { readFileSync } from "node:fs";

/** package.json's version (the same relative path from src/api and dist/api). */
export const API_VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;
