import { describe, expect, it } from "vitest";
import {
  AimdCongestionController,
  type AimdCongestionOptions,
} from "../../../src/transport/congestion/index.js";

/** The window is in bytes; these tests count it in segments of MSS bytes. */
const MSS = 1000;

function aimd(opts: AimdCongestionOptions = {}): AimdCongestionController {
  const cc = new AimdCongestionController(opts);
  cc.setMaxSegmentBytes(MSS);
  return cc;
}

const segments = (cc: AimdCongestionController) => Math.floor(cc.cwndBytes / MSS);

describe("AimdCongestionController", () => {
  it("starts at 10 segments (RFC 6928) and grows by the ACKed count in slow start", () => {
    const cc = aimd();
    expect(segments(cc)).toBe(10);
    expect(cc.inSlowStart).toBe(true);
    cc.onAck(10 * MSS, 5, 0);
    expect(segments(cc)).toBe(20);
  });

  it("multiplies the window by 0.7 on a loss event and then grows by about one segment per window", () => {
    const cc = aimd({ initialCwndSegments: 20 });
    cc.onLoss(0);
    expect(segments(cc)).toBe(14);
    expect(cc.ssthreshBytes / MSS).toBe(14);
    expect(cc.inSlowStart).toBe(false);
    cc.onAck(14 * MSS, 5, 1);
    expect(segments(cc)).toBe(15);
  });

  it("drops to one segment on a timeout and slow-starts back to ssthresh", () => {
    const cc = aimd({ initialCwndSegments: 20 });
    cc.onRto(0);
    expect(segments(cc)).toBe(1);
    expect(cc.ssthreshBytes / MSS).toBe(14);
    cc.onAck(100 * MSS, 5, 1);
    expect(segments(cc)).toBe(14); // slow start stops at ssthresh
  });

  it("never goes below the minimum after a loss, nor above the maximum", () => {
    const cc = aimd({ initialCwndSegments: 2, maxCwndSegments: 50 });
    for (let i = 0; i < 10; i++) cc.onLoss(i);
    expect(segments(cc)).toBe(2);
    const big = aimd({ maxCwndSegments: 50 });
    for (let i = 0; i < 100; i++) big.onAck(100 * MSS, 5, i);
    expect(segments(big)).toBe(50);
  });

  it("ignores empty ACK reports", () => {
    const cc = aimd();
    cc.onAck(0, 5, 0);
    cc.onAck(Number.NaN, 5, 0);
    expect(segments(cc)).toBe(10);
  });
});

describe("AimdCongestionController: segment size", () => {
  it("keeps its window in segments when the segments grow, and undoes a spurious timeout", () => {
    const cc = aimd({ initialCwndSegments: 20 });
    cc.setMaxSegmentBytes(8 * MSS);
    expect(cc.cwndBytes).toBe(20 * 8 * MSS);
    cc.onRto(0);
    expect(cc.cwndBytes).toBe(8 * MSS);
    cc.onRtoUndo(1);
    expect(cc.cwndBytes).toBe(20 * 8 * MSS);
  });
});
