/** Media in the conversation: what a received file is (sniffed), and image previews. */

export type { PreviewPixels } from "./downscale.js";
export { mediaText } from "./media-text.js";
export { canPreview, DEFAULT_LIMITS, decodePreview, PREVIEW_COLS, PREVIEW_ROWS } from "./preview.js";
export {
  MAX_PREVIEW_FILE_BYTES,
  PREVIEW_DEADLINE_MS,
  type PreviewOptions,
  previewFile,
} from "./preview-runner.js";
export { probeFile } from "./probe-file.js";
export type { DecodeLimits } from "./refusal.js";
export { type MediaInfo, probeBytes, probeMedia, type ReadAt } from "./sniff.js";
