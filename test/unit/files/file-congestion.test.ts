/**
 * The bulk path's congestion controller: BbrCongestionController's model unit-tested with
 * synthetic ACK samples, then compared with AIMD on a seeded, bandwidth-limited, lossy link
 * (goodput in simulated time; nothing here reads the clock).
 */

import { describe, expect, it } from "vitest";
import {
  type AckSample,
  AimdCongestionController,
  BbrCongestionController,
  type CongestionController,
} from "../../../src/transport/congestion/index.js";
import { makeFile, sha256 } from "../../sim/file-content.js";
import { HostNode } from "../../sim/host-sim.js";
import { SimNetwork } from "../../sim/sim-network.js";

/**
 * Drives a controller through `rounds` round trips of a path delivering `bwSegmentsPerMs` (of
 * MSS bytes)
 * with an RTT of `rttMs`: one ACK per round trip, each starting a new round. In flight is what
 * the pacing rate puts in one RTT, within the window, unless the test says otherwise.
 */
class SyntheticPath {
  now = 0;
  delivered = 0;

  constructor(private readonly cc: CongestionController) {}

  rounds(
    n: number,
    bwSegmentsPerMs: number,
    rttMs: number,
    opts: { appLimited?: boolean; lossFraction?: number; inflight?: number } = {},
  ): void {
    for (let i = 0; i < n; i++) {
      const segments = Math.max(1, Math.round(bwSegmentsPerMs * rttMs));
      const prior = this.delivered;
      this.delivered += segments;
      this.now += rttMs;
      const lost = Math.round(segments * (opts.lossFraction ?? 0));
      if (lost > 0) this.cc.onSegmentsLost?.(lost, lost * MSS, this.now);
      const sample: AckSample = {
        inRecovery: lost > 0,
        rttSampleMs: rttMs,
        deliveredBytes: this.delivered * MSS,
        priorDeliveredBytes: prior * MSS,
        intervalBytes: segments * MSS,
        intervalMs: rttMs,
        appLimited: opts.appLimited ?? false,
        inflightBytes:
          (opts.inflight ??
            Math.min(this.cc.cwndBytes / MSS, ((this.cc.pacingRateBytesPerMs ?? 0) * rttMs) / MSS)) * MSS,
      };
      this.cc.onAck(segments * MSS, rttMs, this.now, sample);
    }
  }
}

/** The model is in bytes; these tests count in segments of MSS bytes. */
const MSS = 1000;

function bbr(): BbrCongestionController {
  const cc = new BbrCongestionController();
  cc.setMaxSegmentBytes(MSS);
  return cc;
}

describe("BbrCongestionController", () => {
  it("starts paced, finds the bottleneck in Startup, drains, and cruises in ProbeBW at the path's rate", () => {
    const cc = bbr();
    expect(cc.state).toBe("startup");
    expect(Math.floor(cc.cwndBytes / MSS)).toBe(10);
    expect(cc.pacingRateBytesPerMs / MSS).toBeGreaterThan(0);
    const path = new SyntheticPath(cc);
    path.rounds(30, 10, 2);
    expect(cc.pipeFilled).toBe(true);
    expect(cc.state).toBe("probe_bw");
    expect(cc.bottleneckBandwidthBytesPerMs / MSS).toBeCloseTo(10);
    expect(cc.minRttMs).toBe(2);
    // cwnd = 2 × BDP (10 seg/ms × 2 ms) + quantisation allowance + ACK aggregation: this
    // path acknowledges each round trip's 20 segments in one ACK.
    expect(cc.extraAckedBytes / MSS).toBe(20);
    expect(Math.floor(cc.cwndBytes / MSS)).toBe(63);
    // The pacing rate cycles through 1.25, 0.75 and 1 × the bandwidth.
    const rates = new Set<number>();
    for (let i = 0; i < 16; i++) {
      path.rounds(1, 10, 2);
      rates.add(Math.round((cc.pacingRateBytesPerMs / MSS) * 100) / 100);
    }
    expect([...rates].sort()).toEqual([10, 12.5, 7.5]);
  });

  it("widens the window by the ACK aggregation it sees, and not when ACKs arrive at the delivery rate", () => {
    // The same path (10 seg/ms, 2 ms RTT), acknowledged by a receiver that ACKs every second
    // segment as it arrives, 0.2 ms apart: no aggregation, the window is 2 × BDP + 3.
    const smooth = bbr();
    let now = 0;
    let delivered = 0;
    const ack = (cc: BbrCongestionController, segments: number, gapMs: number) => {
      delivered += segments;
      const prior = Math.max(0, delivered - 20);
      now += gapMs;
      cc.onAck(segments * MSS, 2, now, {
        inRecovery: false,
        rttSampleMs: 2,
        deliveredBytes: delivered * MSS,
        priorDeliveredBytes: prior * MSS,
        intervalBytes: (delivered - prior) * MSS,
        intervalMs: 2,
        appLimited: false,
        inflightBytes: 20 * MSS,
      });
    };
    for (let i = 0; i < 500; i++) ack(smooth, 2, 0.2);
    expect(smooth.pipeFilled).toBe(true);
    expect(smooth.bottleneckBandwidthBytesPerMs / MSS).toBeCloseTo(10);
    expect(smooth.extraAckedBytes / MSS).toBeLessThanOrEqual(2);
    expect(Math.floor(smooth.cwndBytes / MSS)).toBeLessThanOrEqual(43 + 2);
    // The same rate, acknowledged 8 segments at a time after a pause (stretched ACKs, or a
    // peer that reads a batch of datagrams late): the window keeps that much more in flight,
    // so the sender does not idle until the next burst.
    const bursty = bbr();
    now = 0;
    delivered = 0;
    for (let i = 0; i < 125; i++) ack(bursty, 8, 0.8);
    expect(bursty.bottleneckBandwidthBytesPerMs / MSS).toBeCloseTo(10);
    expect(bursty.extraAckedBytes / MSS).toBeGreaterThanOrEqual(8);
    expect(Math.floor(bursty.cwndBytes / MSS)).toBeGreaterThanOrEqual(43 + 8);
  });

  it("an isolated loss changes neither the window nor the pacing rate (Reno would cut both)", () => {
    const cc = bbr();
    const path = new SyntheticPath(cc);
    path.rounds(30, 10, 2);
    const cwnd = Math.floor(cc.cwndBytes / MSS);
    const bw = cc.bottleneckBandwidthBytesPerMs / MSS;
    cc.onSegmentsLost(1, MSS, path.now);
    cc.onLoss(path.now);
    expect(Math.floor(cc.cwndBytes / MSS)).toBe(cwnd);
    expect(cc.bottleneckBandwidthBytesPerMs / MSS).toBe(bw);
    const aimd = new AimdCongestionController({ initialCwndSegments: cwnd });
    aimd.setMaxSegmentBytes(MSS);
    aimd.onLoss(0);
    expect(Math.floor(aimd.cwndBytes / MSS)).toBeLessThan(cwnd * 0.75);
  });

  it("after a timeout restarts from one segment and regrows by the ACKed count, keeping the model", () => {
    const cc = bbr();
    const path = new SyntheticPath(cc);
    path.rounds(30, 10, 2);
    const cwnd = Math.floor(cc.cwndBytes / MSS);
    cc.onRto(path.now);
    expect(Math.floor(cc.cwndBytes / MSS)).toBe(1);
    expect(cc.bottleneckBandwidthBytesPerMs / MSS).toBeCloseTo(10);
    path.rounds(4, 10, 2);
    expect(Math.floor(cc.cwndBytes / MSS)).toBe(cwnd);
  });

  it("keeps the maximum delivery rate of the last 10 round trips and forgets older ones", () => {
    const cc = bbr();
    const path = new SyntheticPath(cc);
    path.rounds(30, 10, 2);
    path.rounds(5, 4, 2);
    expect(cc.bottleneckBandwidthBytesPerMs / MSS).toBeCloseTo(10);
    path.rounds(10, 4, 2);
    expect(cc.bottleneckBandwidthBytesPerMs / MSS).toBeCloseTo(4);
  });

  it("lets app-limited samples raise the estimate but never lower it", () => {
    const cc = bbr();
    const path = new SyntheticPath(cc);
    path.rounds(30, 10, 2);
    path.rounds(20, 1, 2, { appLimited: true });
    expect(cc.bottleneckBandwidthBytesPerMs / MSS).toBeCloseTo(10);
    path.rounds(1, 12, 2, { appLimited: true });
    expect(cc.bottleneckBandwidthBytesPerMs / MSS).toBeCloseTo(12);
  });

  it("tolerates 20% random loss, but shrinks the estimate when a third of everything is lost", () => {
    const tolerant = bbr();
    const a = new SyntheticPath(tolerant);
    a.rounds(30, 10, 2);
    a.rounds(40, 10, 2, { lossFraction: 0.2 });
    expect(tolerant.bottleneckBandwidthBytesPerMs / MSS).toBeCloseTo(10);
    // The measured loss rate feeds the up-probe: it sends 1.25 / (1 - p) times the estimate.
    expect(tolerant.lossRateFraction).toBeCloseTo(0.2 / 1.2, 2);
    // Above 30 % over 8 round trips the estimate is scaled by 0.85 (the path here keeps
    // delivering 10, so the next round's sample restores it; a real path would not).
    const broken = bbr();
    const b = new SyntheticPath(broken);
    b.rounds(30, 10, 2);
    let lowest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 16; i++) {
      b.rounds(1, 10, 2, { lossFraction: 0.6 });
      lowest = Math.min(lowest, broken.bottleneckBandwidthBytesPerMs / MSS);
    }
    expect(lowest).toBeCloseTo(8.5);
    let lowestTolerant = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 16; i++) {
      a.rounds(1, 10, 2, { lossFraction: 0.2 });
      lowestTolerant = Math.min(lowestTolerant, tolerant.bottleneckBandwidthBytesPerMs / MSS);
    }
    expect(lowestTolerant).toBeCloseTo(10);
  });

  it("never paces above a configured ceiling, whatever the path delivers", () => {
    const cc = new BbrCongestionController({ maxRateBytesPerMs: 5 * MSS });
    cc.setMaxSegmentBytes(MSS);
    expect(cc.pacingRateBytesPerMs).toBeLessThanOrEqual(5 * MSS);
    const path = new SyntheticPath(cc);
    path.rounds(30, 10, 2);
    for (let i = 0; i < 16; i++) {
      path.rounds(1, 10, 2);
      expect(cc.pacingRateBytesPerMs).toBeLessThanOrEqual(5 * MSS);
    }
  });

  it("re-measures the minimum RTT after 10 s in ProbeRTT (4 segments for 200 ms), then returns", () => {
    const cc = bbr();
    const path = new SyntheticPath(cc);
    path.rounds(30, 10, 2);
    path.rounds(5_100, 10, 2.5, { inflight: 40 }); // RTT a little higher; the 2 ms minimum expires
    expect(cc.state).toBe("probe_rtt");
    expect(Math.floor(cc.cwndBytes / MSS)).toBe(4);
    path.rounds(120, 10, 2.5, { inflight: 4 });
    expect(cc.state).toBe("probe_bw");
    expect(cc.minRttMs).toBe(2.5);
    expect(Math.floor(cc.cwndBytes / MSS)).toBeGreaterThan(40);
  });
});

/** Sends one file over a link and returns the goodput in bytes per simulated second. */
function goodput(seed: number, lossRate: number, congestion: CongestionController): number {
  const net = new SimNetwork({
    seed,
    link: {
      delayMs: 5,
      lossRate,
      bandwidthBytesPerSecond: LINK_BYTES_PER_SECOND,
      queueLimitBytes: 64 * 1024,
    },
  });
  const alice = new HostNode("alice", { seed, acceptIncoming: false });
  const bob = new HostNode("bob", { seed: seed + 1 });
  net.addNode("alice", alice);
  net.addNode("bob", bob);
  alice.connect(bob, net.now);
  if (!net.runUntil(() => alice.session !== undefined && bob.session !== undefined, 10_000))
    throw new Error(`seed=${seed}: no session`);
  const start = net.now;
  const file = makeFile(seed, FILE_BYTES);
  const sender = alice.hostSender(
    {
      id: "goodput-test",
      stream: 1,
      name: "big.iso",
      sizeBytes: file.length,
      sha256: sha256(file),
      congestion,
    },
    file,
  );
  bob.hostReceiver(sender.offer);
  const done = net.runUntil(() => sender.state === "completed", 3_600_000);
  if (!done) throw new Error(`seed=${seed}: transfer did not complete`);
  return (file.length * 1000) / (net.now - start);
}

const LINK_BYTES_PER_SECOND = 10_000_000;
const FILE_BYTES = 3_000_000;

describe("BBR against AIMD on a lossy, bandwidth-limited link (10 MB/s, 10 ms RTT, 64 KiB queue)", () => {
  for (const [seed, lossRate] of [
    [71, 0.01],
    [72, 0.02],
  ] as const) {
    it(`sustains well above AIMD's goodput at ${lossRate * 100}% random loss seed=${seed}`, () => {
      const bbr = goodput(seed, lossRate, new BbrCongestionController());
      const aimd = goodput(seed, lossRate, new AimdCongestionController());
      const clean = goodput(seed, 0, new BbrCongestionController());
      console.log(
        `seed=${seed} loss=${lossRate * 100}%: BBR ${(bbr / 1e6).toFixed(2)} MB/s, AIMD ${(aimd / 1e6).toFixed(2)} MB/s ` +
          `(×${(bbr / aimd).toFixed(1)}), BBR without loss ${(clean / 1e6).toFixed(2)} MB/s, link ${LINK_BYTES_PER_SECOND / 1e6} MB/s`,
      );
      expect(bbr, `seed=${seed}`).toBeGreaterThanOrEqual(1.5 * aimd);
      // Random loss costs BBR little, and it keeps the link mostly full (datagram overhead,
      // Startup and the first round trips included).
      expect(bbr, `seed=${seed}`).toBeGreaterThanOrEqual(0.85 * clean);
      expect(bbr, `seed=${seed}`).toBeGreaterThanOrEqual(0.7 * LINK_BYTES_PER_SECOND);
    });
  }
});
