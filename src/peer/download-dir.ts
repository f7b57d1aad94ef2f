/**
 * Where received files go unless `--download-dir` says otherwise: the user's download folder
 * as the desktop names it. `XDG_DOWNLOAD_DIR` from the environment, else the line of that name
 * in `$XDG_CONFIG_HOME/user-dirs.dirs` (what `xdg-user-dir DOWNLOAD` reads, written by
 * xdg-user-dirs-update in the user's language), else `~/Downloads`.
 */

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

/** The value of `XDG_DOWNLOAD_DIR` in a user-dirs.dirs text (`"$HOME/Téléchargements"`), if any. */
export function userDirsDownload(text: string, home: string): string | undefined {
  for (const raw of text.split("\n")) {
    const m = /^\s*XDG_DOWNLOAD_DIR\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(raw);
    if (!m) continue;
    const value = (m[1] as string).replace(/\\(.)/g, "$1").replace(/^\$HOME(?=\/|$)/, home);
    return isAbsolute(value) ? resolve(value) : undefined;
  }
  return undefined;
}

export function defaultDownloadDir(
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
  readText: (path: string) => string = (p) => readFileSync(p, "utf8"),
): string {
  const fromEnv = env.XDG_DOWNLOAD_DIR;
  if (fromEnv !== undefined && isAbsolute(fromEnv)) return resolve(fromEnv);
  const config =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, ".config");
  try {
    const named = userDirsDownload(readText(join(config, "user-dirs.dirs")), home);
    // xdg-user-dirs sets a folder it disabled to $HOME itself; files should not land loose there.
    if (named !== undefined && named !== home) return named;
  } catch {
    // No user-dirs.dirs: the usual folder.
  }
  return join(home, "Downloads");
}
