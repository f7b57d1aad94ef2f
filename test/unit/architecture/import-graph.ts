/**
 * The import graph of `src/` and the side effects each file reaches for, read with the
 * TypeScript parser (no type checking: a second or so for the whole tree). Comments and
 * strings are not code, so a theory-of-operation header that mentions `setTimeout` or
 * `Date.now()` is not a use.
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const SRC = fileURLToPath(new URL("../../../src", import.meta.url));

/** What a file does that a sans-IO core must not. */
export type Effect =
  /** `node:dgram`: sockets. */
  | "dgram"
  /** `node:fs`, `node:os`, `node:child_process`: disk, the machine, processes. */
  | "system"
  /** `setTimeout`, `setInterval`, `setImmediate`, `node:timers`. */
  | "timers"
  /** `Date.now`, `new Date()`, `performance.now`, `process.hrtime`: reading the clock. */
  | "clock"
  /** `Math.random`, `crypto.randomBytes` and its siblings: randomness not passed in. */
  | "random";

export interface SourceFile {
  /** Path under `src/`, with forward slashes (`transport/pacer.ts`). */
  path: string;
  /** Files under `src/` it imports or re-exports from (type-only imports included). */
  imports: string[];
  /** Bare module specifiers (`node:dgram`, `commander`). */
  packages: string[];
  effects: Set<Effect>;
}

const TIMER_CALLS = new Set(["setTimeout", "setInterval", "setImmediate"]);
const CLOCK_READS = new Set(["Date.now", "performance.now", "process.hrtime", "process.hrtime.bigint"]);
const RANDOM_NAMES = new Set([
  "randomBytes",
  "randomInt",
  "randomUUID",
  "randomFillSync",
  "randomFill",
  "getRandomValues",
]);

function listTs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listTs(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

function packageEffect(spec: string): Effect | undefined {
  const name = spec.replace(/^node:/, "");
  if (name === "dgram") return "dgram";
  if (name === "timers" || name.startsWith("timers/")) return "timers";
  if (["fs", "fs/promises", "os", "child_process"].includes(name)) return "system";
  return undefined;
}

export function parseFile(absolute: string, root = SRC): SourceFile {
  const path = relative(root, absolute).split("\\").join("/");
  const text = readFileSync(absolute, "utf8");
  const sf = ts.createSourceFile(absolute, text, ts.ScriptTarget.Latest, true);
  const file: SourceFile = { path, imports: [], packages: [], effects: new Set() };

  const addSpecifier = (spec: string): void => {
    if (spec.startsWith(".")) {
      const target = resolve(dirname(absolute), spec.replace(/\.js$/, ".ts"));
      file.imports.push(relative(root, target).split("\\").join("/"));
      return;
    }
    file.packages.push(spec);
    const effect = packageEffect(spec);
    if (effect !== undefined) file.effects.add(effect);
  };

  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      addSpecifier(node.moduleSpecifier.text);
      const bindings = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : undefined;
      if (/^(node:)?crypto$/.test(node.moduleSpecifier.text) && bindings && ts.isNamedImports(bindings)) {
        for (const el of bindings.elements) {
          if (RANDOM_NAMES.has((el.propertyName ?? el.name).text)) file.effects.add("random");
        }
      }
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg !== undefined && ts.isStringLiteral(arg)) addSpecifier(arg.text);
    } else if (ts.isIdentifier(node) && TIMER_CALLS.has(node.text) && isFreeReference(node)) {
      file.effects.add("timers");
    } else if (ts.isPropertyAccessExpression(node)) {
      const name = node.getText(sf);
      if (CLOCK_READS.has(name)) file.effects.add("clock");
      if (name === "Math.random") file.effects.add("random");
      if (
        RANDOM_NAMES.has(node.name.text) &&
        /^(crypto|globalThis\.crypto)$/.test(node.expression.getText(sf))
      ) {
        file.effects.add("random");
      }
    } else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === "Date" &&
      (node.arguments === undefined || node.arguments.length === 0)
    ) {
      file.effects.add("clock");
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return file;
}

/** An identifier used as a value of its own, not a property name (`x.setTimeout`) or a declaration. */
function isFreeReference(id: ts.Identifier): boolean {
  const parent = id.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === id) return false;
  if ((ts.isPropertyAssignment(parent) || ts.isMethodDeclaration(parent)) && parent.name === id) return false;
  if (ts.isPropertySignature(parent) || ts.isMethodSignature(parent) || ts.isTypeQueryNode(parent))
    return false;
  return true;
}

export function parseTree(root = SRC): SourceFile[] {
  return listTs(root)
    .map((f) => parseFile(f, root))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The folder a file belongs to for layering: its top-level folder under `src/`, or, for a
 * file directly in `src/`, its own name without `.ts` (`cli`, `errors`).
 */
export function folderOf(path: string): string {
  const slash = path.indexOf("/");
  return slash < 0 ? path.replace(/\.ts$/, "") : path.slice(0, slash);
}

/** Folder → folders it imports, each with one example edge (`a.ts -> b.ts`). */
export function folderEdges(files: readonly SourceFile[]): Map<string, Map<string, string>> {
  const edges = new Map<string, Map<string, string>>();
  for (const f of files) {
    const from = folderOf(f.path);
    for (const target of f.imports) {
      const to = folderOf(target);
      if (to === from) continue;
      let out = edges.get(from);
      if (out === undefined) {
        out = new Map();
        edges.set(from, out);
      }
      if (!out.has(to)) out.set(to, `${f.path} -> ${target}`);
    }
  }
  return edges;
}

/** Strongly connected components with more than one folder: the folder loops (Tarjan). */
export function folderLoops(edges: Map<string, Map<string, string>>): string[][] {
  const nodes = new Set<string>([...edges.keys(), ...[...edges.values()].flatMap((m) => [...m.keys()])]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const loops: string[][] = [];
  let counter = 0;
  const strong = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) loops.push(component.sort());
    }
  };
  for (const v of [...nodes].sort()) if (!index.has(v)) strong(v);
  return loops;
}
