/** Congestion control for the reliable channel: the interface and its two controllers. */

export { AimdCongestionController, type AimdCongestionOptions } from "./aimd.js";
export { BbrCongestionController, type BbrCongestionOptions, type BbrState } from "./bbr.js";
export { type AckSample, type CongestionController, DEFAULT_MAX_SEGMENT_BYTES } from "./controller.js";
