/** A file's media in plain words: "PNG image, 640×480" or "MP4 video, 1:02:03". */

import type { MediaInfo } from "./sniff.js";

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh > 0 ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

export function mediaText(m: MediaInfo): string {
  const format = m.format.toUpperCase();
  if (m.kind === "image") return `${format} image, ${m.width}×${m.height}`;
  return `${format} ${m.kind}${m.durationMs === undefined ? "" : `, ${duration(m.durationMs)}`}`;
}
