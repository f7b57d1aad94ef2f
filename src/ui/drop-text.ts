/**
 * The registry's drop box in plain words, for the interactive front ends: a file waiting for
 * you, and the `/drops` list. Names are shown JSON-quoted, so a sender's file name cannot
 * drive the terminal. Pure functions.
 */

import type { DropInfo } from "../protocol/drop.js";
import { formatBytes } from "./tui/model.js";

/** The first 8 digits of a drop id: what `/drop cancel` and `/drop decline` need. */
export function shortDrop(id: string): string {
  return id.slice(0, 8);
}

/** A `drop` event: a file waits for you (fetched now), or the registry already had what you sent. */
export function dropLine(d: DropInfo): string {
  const what = `${JSON.stringify(d.name)} (${formatBytes(d.size)})`;
  if (d.from === "") return `${what} for ${d.to}: the registry already holds it; nothing to upload`;
  const where = d.to.startsWith("#") ? ` in ${d.to}` : "";
  return `${d.from} left ${what}${where} in the drop box (${shortDrop(d.id)}); fetching it`;
}

/** The `/drops` answer: what you sent that someone has not taken, and what waits for you. */
export function dropsText(sent: readonly DropInfo[], received: readonly DropInfo[]): string {
  const lines = [
    ...sent.map(
      (d) =>
        `  ${shortDrop(d.id)} → ${d.to} ${JSON.stringify(d.name)} ${formatBytes(d.size)} ${
          d.state === "uploading" ? "uploading" : `waiting for ${d.waiting?.join(", ") || "nobody"}`
        }`,
    ),
    ...received.map(
      (d) => `  ${shortDrop(d.id)} ← ${d.from} ${JSON.stringify(d.name)} ${formatBytes(d.size)}`,
    ),
  ];
  return lines.join("\n") || "  (the drop box holds nothing of yours)";
}
