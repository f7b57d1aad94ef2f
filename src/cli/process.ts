/**
 * What the `hallway` command's parts share about the process: whether output is JSON (set
 * from `--json` before parsing, and by each command's own `--json`).
 */

/** `json`: errors and summaries as JSON events (`--json`). */
export const output = { json: process.argv.includes("--json") };
