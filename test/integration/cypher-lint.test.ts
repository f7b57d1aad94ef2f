/**
 * Neo4j's own Cypher linter (`@neo4j-cypher/language-support`: Neo4j's parser and semantic
 * analysis, compiled to JavaScript) over every statement the Neo4j adapter can send. No server
 * is needed. Each statement must lint with zero errors under Cypher 5 and Cypher 25, against a
 * schema that declares the model's labels, relationship types, exactly the statement's declared
 * parameters, and Neo4j's built-in functions as the package ships them (so an unknown function
 * is an error too). Warnings are printed, not failed.
 *
 * On top of the linter, from the same parse tree: a `read` statement has no updating clause (it
 * may run on a cluster follower), every declared parameter is used, and schema statements are
 * idempotent. Negative controls prove each check can fail.
 */

import { createRequire } from "node:module";
import type * as LanguageSupport from "@neo4j-cypher/language-support";
import { describe, expect, it } from "vitest";
import {
  CYPHER,
  type CypherStatement,
  type CypherType,
  GRAPH_LABELS,
  GRAPH_RELATIONSHIP_TYPES,
  type StatementKey,
} from "../../src/server/store/neo4j/cypher.js";

// The package's ESM build uses extensionless imports that Node's ESM loader rejects; its CJS
// build is the same code.
const cypher = createRequire(import.meta.url)("@neo4j-cypher/language-support") as typeof LanguageSupport;

type Diagnostic = ReturnType<typeof LanguageSupport.lintCypherQuery>[number];
type CypherVersion = "CYPHER 5" | "CYPHER 25";
const VERSIONS: readonly CypherVersion[] = ["CYPHER 5", "CYPHER 25"];

/** vscode-languageserver-types' DiagnosticSeverity. */
const ERROR = 1;

const SAMPLE: Record<CypherType, unknown> = {
  STRING: "s",
  "STRING?": null,
  INTEGER: 1,
  "INTEGER?": null,
  MAP: { k: "s" },
  "LIST<STRING>": ["s"],
  "LIST<MAP>": [{ k: "s" }],
};

function schemaFor(params: CypherStatement["params"], version: CypherVersion): LanguageSupport.DbSchema {
  const builtIns = cypher.testData.mockSchema;
  return {
    labels: [...GRAPH_LABELS],
    relationshipTypes: [...GRAPH_RELATIONSHIP_TYPES],
    parameters: Object.fromEntries(Object.entries(params).map(([name, type]) => [name, SAMPLE[type]])),
    ...(builtIns.functions ? { functions: builtIns.functions } : {}),
    ...(builtIns.procedures ? { procedures: builtIns.procedures } : {}),
    defaultLanguage: version,
  };
}

function lint(statement: CypherStatement, version: CypherVersion): { errors: string[]; warnings: string[] } {
  const diagnostics: Diagnostic[] = cypher.lintCypherQuery(
    statement.text,
    schemaFor(statement.params, version),
  );
  const show = (d: Diagnostic) => `${d.range.start.line + 1}:${d.range.start.character + 1} ${d.message}`;
  return {
    errors: diagnostics.filter((d) => d.severity === ERROR).map(show),
    warnings: diagnostics.filter((d) => d.severity !== ERROR).map(show),
  };
}

function parsed(text: string) {
  const statements = cypher.parserWrapper.parse(text).statementsParsing;
  expect(statements, "one statement per constant").toHaveLength(1);
  return statements[0] as (typeof statements)[number];
}

const UPDATING_CLAUSES = [
  cypher.CreateClauseContext,
  cypher.MergeClauseContext,
  cypher.SetClauseContext,
  cypher.DeleteClauseContext,
  cypher.RemoveClauseContext,
  cypher.ForeachClauseContext,
  cypher.InsertClauseContext,
  cypher.CallClauseContext,
];

interface TreeNode {
  children?: TreeNode[] | null;
  getText(): string;
}

/** Updating clauses (and procedure calls, which may write) anywhere in the statement's parse tree. */
function updatingClauses(text: string): string[] {
  const found: string[] = [];
  const walk = (node: TreeNode) => {
    if (UPDATING_CLAUSES.some((clause) => node instanceof clause)) found.push(node.getText());
    for (const child of node.children ?? []) walk(child);
  };
  walk(parsed(text).ctx as unknown as TreeNode);
  return found;
}

function usedParameters(text: string): string[] {
  return [...new Set(parsed(text).collectedParameters.map((p) => p.name))].sort();
}

const entries = Object.entries(CYPHER) as Array<[StatementKey, CypherStatement]>;

describe("every Cypher statement of the Neo4j adapter", () => {
  it("is linted: there are statements of every mode", () => {
    const modes = new Set(entries.map(([, s]) => s.mode));
    expect([...modes].sort()).toEqual(["read", "schema", "write"]);
    expect(entries.length).toBeGreaterThanOrEqual(20);
  });

  describe.each(entries)("%s", (key, statement) => {
    it.each(VERSIONS)("lints with zero errors as %s", (version) => {
      const { errors, warnings } = lint(statement, version);
      if (warnings.length > 0)
        console.warn(`cypher lint warnings for ${key} (${version}):\n  ${warnings.join("\n  ")}`);
      expect(errors, `${key}:\n${statement.text}`).toEqual([]);
    });

    it("uses exactly its declared parameters", () => {
      expect(usedParameters(statement.text)).toEqual(Object.keys(statement.params).sort());
    });

    if (statement.mode === "read") {
      it("has no updating clause, so it may run on a read replica", () => {
        expect(updatingClauses(statement.text)).toEqual([]);
      });
    }

    if (statement.mode === "schema") {
      it("is idempotent (IF NOT EXISTS)", () => {
        expect(statement.text).toMatch(/^CREATE (CONSTRAINT|INDEX|TEXT INDEX) \w+ IF NOT EXISTS /);
      });
    }
  });
});

describe("negative controls: the checks above can fail", () => {
  const statement = (text: string, params: CypherStatement["params"] = {}): CypherStatement => ({
    mode: "read",
    text,
    params,
  });

  it("reports a syntax error", () => {
    expect(lint(statement("MATCH (u:User) RETRUN u"), "CYPHER 5").errors).not.toEqual([]);
  });

  it("reports an undeclared parameter", () => {
    const { errors } = lint(statement("MATCH (u:User {nameLower: $nameKey}) RETURN u"), "CYPHER 5");
    expect(errors.join("\n")).toMatch(/\$nameKey/);
  });

  it("reports an unknown function", () => {
    const { errors } = lint(statement("MATCH (u:User) RETURN toLowerCase(u.name) AS n"), "CYPHER 5");
    expect(errors.join("\n")).toMatch(/toLowerCase/);
  });

  it("reports a semantic error (a variable used but never bound)", () => {
    const { errors } = lint(statement("MATCH (u:User) RETURN m.id AS id"), "CYPHER 5");
    expect(errors.join("\n")).toMatch(/`m` not defined/);
  });

  it("warns about a label that is not in the model", () => {
    const { errors, warnings } = lint(statement("MATCH (u:Usr) RETURN u.name AS n"), "CYPHER 5");
    expect(errors).toEqual([]);
    expect(warnings.join("\n")).toMatch(/Usr/);
  });

  it("finds updating clauses, also nested in a subquery, but not inside a string", () => {
    expect(updatingClauses("MATCH (u:User) SET u.x = 1 RETURN u")).toHaveLength(1);
    expect(updatingClauses("MATCH (u:User) CALL { WITH u MERGE (u)-[:TO]->(:User) } RETURN u")).not.toEqual(
      [],
    );
    expect(updatingClauses("MATCH (u:User {name: 'CREATE SET'}) RETURN u")).toEqual([]);
  });

  it("finds the parameters a statement uses", () => {
    expect(usedParameters("MATCH (u:User {a: $a}) WHERE u.b IN $b OR u.c = $a RETURN u")).toEqual(["a", "b"]);
  });
});
