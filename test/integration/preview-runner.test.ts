/**
 * Previews off the UI thread, as the built CLI runs them (a worker thread needs compiled
 * JavaScript, so this loads dist/): a decode in a worker gives the same pixels as in
 * process; a worker that misses its deadline is terminated and gives none; files over the
 * size limit and files that are not there give none; requests queue one at a time.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { decodePreview } from "../../src/media/index.js";
import { systemRuntime } from "../../src/net/system-runtime.js";
import { encodePng, quadrants } from "../unit/media/encode.js";
import { requireBuild, tempDir } from "./harness.js";

type Runner = typeof import("../../src/media/preview-runner.js");
let runner: Runner;

beforeAll(async () => {
  requireBuild();
  runner = (await import(
    pathToFileURL(join(import.meta.dirname, "../../dist/media/preview-runner.js")).href
  )) as Runner;
});

describe("previewFile (worker thread)", () => {
  it("decodes in a worker what decodePreview decodes here; refuses big, missing and late ones", async () => {
    const dir = tempDir("previews");
    const png = encodePng(300, 200, quadrants(300, 200));
    writeFileSync(join(dir, "a.png"), png);
    const [inWorker, tooBig, missing, late] = await Promise.all([
      runner.previewFile(join(dir, "a.png"), systemRuntime),
      runner.previewFile(join(dir, "a.png"), systemRuntime, { maxFileBytes: 100 }),
      runner.previewFile(join(dir, "nothing.png"), systemRuntime),
      runner.previewFile(join(dir, "a.png"), systemRuntime, { deadlineMs: 0 }),
    ]);
    expect(inWorker).toEqual(decodePreview(png));
    expect(tooBig).toBeUndefined();
    expect(missing).toBeUndefined();
    expect(late).toBeUndefined();
  });
});
