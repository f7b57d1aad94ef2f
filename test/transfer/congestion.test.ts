import { describe, expect, it } from "vitest";
import { AimdCongestionController } from "../../src/transfer/congestion.js";

describe("AimdCongestionController", () => {
  it("starts at 10 segments (RFC 6928) and grows by the ACKed count in slow start", () => {
    const cc = new AimdCongestionController();
    expect(cc.cwndSegments).toBe(10);
    expect(cc.inSlowStart).toBe(true);
    cc.onAck(10, 5, 0);
    expect(cc.cwndSegments).toBe(20);
  });

  it("multiplies the window by 0.7 on a loss event and then grows by about one segment per window", () => {
    const cc = new AimdCongestionController({ initialCwndSegments: 20 });
    cc.onLoss(0);
    expect(cc.cwndSegments).toBe(14);
    expect(cc.ssthreshSegments).toBe(14);
    expect(cc.inSlowStart).toBe(false);
    cc.onAck(14, 5, 1);
    expect(cc.cwndSegments).toBe(15);
  });

  it("drops to one segment on a timeout and slow-starts back to ssthresh", () => {
    const cc = new AimdCongestionController({ initialCwndSegments: 20 });
    cc.onRto(0);
    expect(cc.cwndSegments).toBe(1);
    expect(cc.ssthreshSegments).toBe(14);
    cc.onAck(100, 5, 1);
    expect(cc.cwndSegments).toBe(14); // slow start stops at ssthresh
  });

  it("never goes below the minimum after a loss, nor above the maximum", () => {
    const cc = new AimdCongestionController({ initialCwndSegments: 2, maxCwndSegments: 50 });
    for (let i = 0; i < 10; i++) cc.onLoss(i);
    expect(cc.cwndSegments).toBe(2);
    const big = new AimdCongestionController({ maxCwndSegments: 50 });
    for (let i = 0; i < 100; i++) big.onAck(100, 5, i);
    expect(big.cwndSegments).toBe(50);
  });

  it("ignores empty ACK reports", () => {
    const cc = new AimdCongestionController();
    cc.onAck(0, 5, 0);
    cc.onAck(Number.NaN, 5, 0);
    expect(cc.cwndSegments).toBe(10);
  });
});
