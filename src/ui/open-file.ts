/**
 * `/open N`: a received file handed to the desktop's opener (`xdg-open`; `open` on macOS),
 * when one is on the PATH. The path goes as one argument to execFile, never through a shell,
 * so a peer's file name cannot become a command. Without an opener, one line says so and
 * where the file is.
 */

import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { HallwayError } from "../errors.js";

/** The path of `command` on `path` (a PATH value), or undefined. */
export function findOnPath(command: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The desktop's opener on this system, or undefined. */
export function findOpener(path = process.env.PATH ?? "", platform = process.platform): string | undefined {
  return findOnPath(platform === "darwin" ? "open" : "xdg-open", path);
}

/**
 * Starts the opener on `file` and returns its name for the line that says so; throws
 * FILE_NO_OPENER when there is none. The opener runs on its own: its exit and errors are
 * not waited for (xdg-open hands over to the desktop and may stay for as long as the viewer).
 */
export function openFile(file: string, opener = findOpener()): string {
  if (opener === undefined)
    throw new HallwayError(
      "FILE_NO_OPENER",
      `no program to open files here (xdg-open is not installed); the file is at ${file}`,
    );
  const child = execFile(opener, [resolve(file)], { windowsHide: true }, () => {});
  child.unref();
  return opener.split(/[\\/]/).pop() ?? opener;
}
