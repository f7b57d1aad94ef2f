/**
 * Desktop notifications through `notify-send` (libnotify), when it is on the PATH: for a
 * message in a buffer that is not in view. The terminal bell rings as well (render.ts);
 * `--no-notify` turns these off. A missing or failing notify-send costs nothing: the
 * process is started detached, its errors are ignored, and at most a few wait at a time
 * (the reducers cap them).
 */

import { spawn } from "node:child_process";
import { findOnPath } from "../open-file.js";

/** Longest body handed over; a notification is a glance, the buffer has the rest. */
const MAX_BODY_CHARS = 200;

/** The path of `notify-send` on PATH, or undefined. */
export function findNotifySend(path = process.env.PATH ?? ""): string | undefined {
  return findOnPath("notify-send", path);
}

export function desktopNotify(command: string, title: string, body: string): void {
  const text = body.length > MAX_BODY_CHARS ? `${body.slice(0, MAX_BODY_CHARS - 1)}…` : body;
  try {
    const child = spawn(command, ["--app-name=Hallway", "--", title, text], {
      stdio: "ignore",
      detached: true,
    });
    child.on("error", () => {});
    child.unref();
  } catch {
    // No notification; the bell and the hotlist still tell.
  }
}
