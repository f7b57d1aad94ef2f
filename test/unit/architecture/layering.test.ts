/**
 * The layering rules of docs/architecture.md, checked over the import graph of `src/`:
 *
 *   1. No folder imports a folder that imports it back (no folder loops).
 *   2. Each folder imports only the folders beneath it (`MAY_IMPORT`), and a folder that has a
 *      façade (`index.ts`: `peer/`, `server/`, `media/`) only through it: no deep imports.
 *   3. The cores (`protocol/`, `transport/`, `files/`, `traversal/`) reach for no socket, disk, machine,
 *      timer, clock or randomness, and import no adapter (`net/`).
 *   4. Outside the cores, sockets, timers, the clock and randomness belong to the socket
 *      adapters and the clock in `net/` (`EFFECT_ADAPTERS`, file by file) and the composition
 *      roots (`main/`, one per process, and the command line, `cli.ts` and `cli/`). Everything
 *      else, the roles included, takes a `Runtime` (src/runtime.ts) and sockets.
 *
 * `DEBT` is where a known breach would be listed, file by file, with the reason; it is empty.
 * Anything new fails, and so does an entry that is no longer needed.
 */

import { describe, expect, it } from "vitest";
import {
  type Effect,
  folderEdges,
  folderLoops,
  folderOf,
  parseTree,
  type SourceFile,
} from "./import-graph.js";

/** Everything beneath the composition roots, which wire it (`main/`, and `cli` above them). */
const EVERY_LAYER = [
  "errors",
  "runtime",
  "protocol",
  "transport",
  "files",
  "traversal",
  "net",
  "media",
  "transfers",
  "server",
  "peer",
  "ui",
];

/** What each folder may import besides itself, inner layers first (`errors` and `runtime` are everyone's). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  errors: [],
  runtime: [],
  protocol: ["errors", "runtime"],
  transport: ["errors", "runtime", "protocol"],
  files: ["errors", "runtime", "protocol", "transport"],
  traversal: ["errors", "runtime", "protocol"],
  net: ["errors", "runtime", "protocol", "transport", "traversal"],
  media: ["errors", "runtime"],
  transfers: ["errors", "runtime", "protocol", "transport", "files", "net", "media"],
  server: ["errors", "runtime", "protocol", "transport", "files", "traversal", "net", "transfers"],
  peer: ["errors", "runtime", "protocol", "transport", "files", "traversal", "net", "media", "transfers"],
  ui: ["errors", "runtime", "protocol", "transport", "files", "traversal", "peer", "media", "transfers"],
  main: EVERY_LAYER,
  cli: [...EVERY_LAYER, "main"],
};

/** Sans-IO: no effect at all, and no import of an adapter. */
const CORE_FOLDERS = new Set(["protocol", "transport", "files", "traversal"]);
/**
 * Where sockets, timers, the clock and randomness belong, file by file: the socket adapters
 * and the clock. Every other file, `net/udp-host.ts` included, gets them injected.
 */
const EFFECT_ADAPTERS: Record<string, readonly Effect[]> = {
  /** The UDP socket adapter: the one `node:dgram`. */
  "net/udp-socket.ts": ["dgram"],
  /** The clock. */
  "net/clock.ts": ["clock"],
  /** The process's Runtime: Node's timers, the clocks, `randomBytes`. */
  "net/system-runtime.ts": ["clock", "random", "timers"],
  /** The mDNS socket adapters (bonjour-service's multicast socket): re-announce and browse timeout. */
  "net/mdns-advertise.ts": ["timers"],
  "net/mdns-discovery.ts": ["timers"],
};
/**
 * The composition roots: one per process in `main/` (`peer.ts`, `registry.ts`), and the
 * command line (`cli.ts` and its parts in `cli/`), which runs the one-shot commands itself.
 */
const isCompositionRoot = (path: string): boolean =>
  path.startsWith("main/") || path === "cli.ts" || path.startsWith("cli/");
/** What rule 4 restricts outside the cores (disk and the machine are other adapters' business). */
const ROOT_ONLY_EFFECTS: readonly Effect[] = ["dgram", "timers", "clock", "random"];

/**
 * Known breaches, each a file and what it does that its layer should not. A file's entry
 * lists its effects (`timers`, `clock`, `random`, …) and the folders it imports against
 * `MAY_IMPORT` (`import net`).
 */
const DEBT: Record<string, { because: string; allows: readonly string[] }> = {};

/** What each file does against the rules: `import <folder>`, `deep <file>` and effects. */
function breaches(file: SourceFile, facades: ReadonlySet<string>): string[] {
  const folder = folderOf(file.path);
  const out = new Set<string>();
  const may = MAY_IMPORT[folder];
  for (const target of file.imports) {
    const to = folderOf(target);
    if (to === folder) continue;
    if (may === undefined || !may.includes(to)) out.add(`import ${to}`);
    // A folder with a façade is entered through it.
    if (facades.has(to) && target !== `${to}/index.ts`) out.add(`deep ${target}`);
  }
  if (CORE_FOLDERS.has(folder)) {
    for (const e of file.effects) out.add(e);
  } else if (!isCompositionRoot(file.path)) {
    const allowed = EFFECT_ADAPTERS[file.path] ?? [];
    for (const e of ROOT_ONLY_EFFECTS) if (file.effects.has(e) && !allowed.includes(e)) out.add(e);
  }
  return [...out].sort();
}

describe("layering (docs/architecture.md)", () => {
  const files = parseTree();

  it("reads the whole tree", () => {
    expect(files.length).toBeGreaterThan(100);
    for (const folder of Object.keys(MAY_IMPORT)) {
      expect(
        files.some((f) => folderOf(f.path) === folder),
        folder,
      ).toBe(true);
    }
    // Every folder has a rule, so a new folder needs one before it can import anything.
    for (const f of files) expect(MAY_IMPORT[folderOf(f.path)], f.path).toBeDefined();
  });

  it("has no folder loops", () => {
    const edges = folderEdges(files);
    const loops = folderLoops(edges).map((loop) => {
      const examples = loop.flatMap((a) =>
        loop.map((b) => edges.get(a)?.get(b)).filter((x) => x !== undefined),
      );
      return `${loop.join(" <-> ")}: ${examples.join(", ")}`;
    });
    expect(loops).toEqual([]);
  });

  it("keeps every file to its layer, except the debts listed, each still owed", () => {
    const found: Record<string, string[]> = {};
    const facades = new Set(
      files.filter((f) => /^[^/]+\/index\.ts$/.test(f.path)).map((f) => folderOf(f.path)),
    );
    expect([...facades].sort()).toEqual(["media", "peer", "server"]);
    for (const f of files) {
      const b = breaches(f, facades);
      if (b.length > 0) found[f.path] = b;
    }
    const unlisted: string[] = [];
    const paid: string[] = [];
    for (const [path, what] of Object.entries(found)) {
      const allowed = DEBT[path]?.allows ?? [];
      for (const w of what) if (!allowed.includes(w)) unlisted.push(`${path}: ${w}`);
    }
    for (const [path, debt] of Object.entries(DEBT)) {
      for (const w of debt.allows) if (!found[path]?.includes(w)) paid.push(`${path}: ${w}`);
    }
    expect(unlisted, "new breaches of the layering rules").toEqual([]);
    expect(paid, "debts no longer owed: delete them from DEBT").toEqual([]);
  });
});

describe("the import-graph reader", () => {
  it("sees effects in code, not in comments or strings, and finds loops", async () => {
    const { mkdtempSync, writeFileSync, mkdirSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "hallway-graph-"));
    try {
      mkdirSync(join(dir, "a"));
      mkdirSync(join(dir, "b"));
      writeFileSync(
        join(dir, "a", "x.ts"),
        [
          "// setTimeout(() => {}, 1) and Date.now() in a comment",
          'import { y } from "../b/y.js";',
          'import { randomBytes as rb } from "node:crypto";',
          'const s = "Math.random()";',
          "export const x = () => setImmediate(() => y(rb(1), s));",
        ].join("\n"),
      );
      writeFileSync(
        join(dir, "b", "y.ts"),
        [
          'export type { X } from "../a/x.js";',
          "export const y = (..._: unknown[]) => new Date().getTime();",
        ].join("\n"),
      );
      const tree = parseTree(dir);
      const x = tree.find((f) => f.path.endsWith("x.ts")) as SourceFile;
      const y = tree.find((f) => f.path.endsWith("y.ts")) as SourceFile;
      expect([...x.effects].sort()).toEqual(["random", "timers"]);
      expect([...y.effects]).toEqual(["clock"]);
      expect(x.packages).toEqual(["node:crypto"]);
      expect(x.imports).toEqual(["b/y.ts"]);
      expect(folderLoops(folderEdges(tree))).toEqual([["a", "b"]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
