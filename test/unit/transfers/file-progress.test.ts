/**
 * The rate and ETA of progress events, with fixed clocks: a sliding window over recent
 * samples, resumed bytes not counted as transferred, and no ETA while nothing moves.
 */

import { describe, expect, it } from "vitest";
import { ProgressMeter, RATE_WINDOW_MS } from "../../../src/transfers/file-progress.js";

describe("ProgressMeter", () => {
  it("measures bytes per second since the start and the seconds left at that rate", () => {
    const m = new ProgressMeter(1000, 0, 10_000);
    expect(m.sample(1000, 0)).toEqual({ bytesPerSecond: 0, etaSeconds: null });
    expect(m.sample(1500, 1000)).toEqual({ bytesPerSecond: 2000, etaSeconds: 5 });
    expect(m.sample(2000, 2000)).toEqual({ bytesPerSecond: 2000, etaSeconds: 4 });
    expect(m.sample(2100, 10_000).etaSeconds).toBe(0);
  });

  it("does not count bytes held before the start (a resume) as transferred", () => {
    const m = new ProgressMeter(0, 6000, 10_000);
    expect(m.sample(1000, 7000)).toEqual({ bytesPerSecond: 1000, etaSeconds: 3 });
  });

  it("follows the recent rate: a stall decays it to 0 within the window, and the ETA goes", () => {
    const m = new ProgressMeter(0, 0, 1_000_000);
    for (let t = 250; t <= 4000; t += 250) m.sample(t, t * 100); // 100 kB/s
    expect(m.sample(4250, 425_000).bytesPerSecond).toBe(100_000);
    // Twice as fast for a full window: the old rate has left it.
    let r = { bytesPerSecond: 0, etaSeconds: null as number | null };
    let bytes = 425_000;
    for (let t = 4500; t <= 4250 + RATE_WINDOW_MS; t += 250) {
      bytes += 50_000;
      r = m.sample(t, bytes);
    }
    expect(r.bytesPerSecond).toBe(200_000);
    // Then nothing moves for a full window.
    for (let t = 4250 + RATE_WINDOW_MS + 250; t <= 4250 + 2 * RATE_WINDOW_MS; t += 250)
      r = m.sample(t, bytes);
    expect(r).toEqual({ bytesPerSecond: 0, etaSeconds: null });
  });
});
