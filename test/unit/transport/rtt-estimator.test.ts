import { describe, expect, it } from "vitest";
import { RttEstimator } from "../../../src/transport/rtt-estimator.js";

function estimator(): RttEstimator {
  return new RttEstimator({ initialRtoMs: 300, minRtoMs: 30, maxRtoMs: 4000 });
}

describe("RttEstimator (RFC 6298)", () => {
  it("uses the initial RTO before any sample (§2.1)", () => {
    const e = estimator();
    expect(e.srttMs).toBeUndefined();
    expect(e.rttvarMs).toBeUndefined();
    expect(e.rtoMs).toBe(300);
  });

  it("sets SRTT = R and RTTVAR = R/2 on the first sample (§2.2)", () => {
    const e = estimator();
    e.sample(100, 0);
    expect(e.srttMs).toBe(100);
    expect(e.rttvarMs).toBe(50);
    expect(e.rtoMs).toBe(100 + 4 * 50);
  });

  it("smooths later samples with alpha = 1/8 and beta = 1/4, RTTVAR first (§2.3)", () => {
    const e = estimator();
    e.sample(100, 0);
    e.sample(200, 0);
    // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
    expect(e.rttvarMs).toBe(62.5);
    expect(e.srttMs).toBe(112.5);
    expect(e.rtoMs).toBe(112.5 + 4 * 62.5);
  });

  it("uses the clock granularity when the variance is tiny (§2.3)", () => {
    const e = new RttEstimator({ initialRtoMs: 300, minRtoMs: 1, maxRtoMs: 4000, granularityMs: 10 });
    e.sample(40, 0);
    for (let i = 0; i < 100; i++) e.sample(40, 0);
    expect(e.rtoMs).toBeCloseTo(50, 3);
  });

  it("clamps the RTO to [minRtoMs, maxRtoMs] (§2.4, §2.5)", () => {
    const e = estimator();
    e.sample(1, 0);
    expect(e.rtoMs).toBe(30);
    const big = estimator();
    big.sample(3000, 0);
    expect(big.rtoMs).toBe(4000);
  });

  it("doubles the RTO per back-off up to the ceiling, and a sample collapses it (§5.5, §5.7)", () => {
    const e = estimator();
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      e.backOff();
      seen.push(e.rtoMs);
    }
    expect(seen).toEqual([600, 1200, 2400, 4000, 4000, 4000]);
    expect(e.backoffCount).toBe(6);
    e.sample(10, 0);
    expect(e.backoffCount).toBe(0);
    expect(e.rtoMs).toBe(30);
  });

  it("subtracts the peer's ACK delay unless that would go below the minimum RTT (RFC 9002 §5.3)", () => {
    const e = estimator();
    e.sample(10, 0);
    expect(e.minRttMs).toBe(10);
    e.sample(25, 5);
    expect(e.latestRttMs).toBe(20);
    e.sample(12, 5); // 12 - 5 < min RTT 10: the delay is not trusted
    expect(e.latestRttMs).toBe(12);
  });

  it("ignores nonsense samples", () => {
    const e = estimator();
    e.sample(Number.NaN, 0);
    e.sample(-1, 0);
    expect(e.srttMs).toBeUndefined();
  });
});
