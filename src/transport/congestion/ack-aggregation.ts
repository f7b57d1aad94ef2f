/**
 * BBR's ACK aggregation estimate (Linux tcp_bbr's `extra_acked`; bbr.ts holds the controller
 * and its theory of operation): the most data acknowledged beyond what the bottleneck
 * bandwidth predicts, over two windows of round trips, which the controller adds to its
 * window once the pipe is full.
 */

/**
 * ACK aggregation (Linux tcp_bbr `bbr_update_ack_aggregation`): the most data acknowledged
 * beyond what `btlBw` predicts, kept as the max of two windows of this many round trips each.
 */
const EXTRA_ACKED_WINDOW_ROUNDS = 5;
/** An aggregation epoch this large is stale: start a new one (Linux: 1 << 20 bytes). */
const ACK_EPOCH_RESET_BYTES = 1 << 20;

export class AckAggregation {
  /** Two windows of the max excess acknowledged, and the current epoch. */
  private extraAckedCurrent = 0;
  private extraAckedPrevious = 0;
  private extraAckedWindowRounds = 0;
  private ackEpochStartMs: number | undefined;
  private ackEpochAcked = 0;

  /** The most bytes recently acknowledged beyond what the bandwidth estimate predicts. */
  get extraAckedBytes(): number {
    return Math.max(this.extraAckedCurrent, this.extraAckedPrevious);
  }

  /**
   * ACK aggregation (Linux tcp_bbr, `bbr_update_ack_aggregation`): ACKs that come in bursts
   * (a receiver that acknowledges every few segments or after its delayed-ACK timer, a peer
   * process that reads a batch of datagrams after a scheduling delay) deliver more at once
   * than `btlBw` predicts and then nothing for a while. A window of `2 × BDP` (at a 1 ms RTT
   * floor on a LAN, a handful of segments) then empties between bursts, the sender idles, the
   * delivery rate it measures falls, and the BDP with it: the window collapses. The excess
   * acknowledged per epoch (at most one cwnd) is therefore added to the window once the pipe
   * is full, so the sender keeps transmitting while the next burst of ACKs is on its way.
   */
  update(
    acked: number,
    now: number,
    roundStart: boolean,
    bottleneckBandwidthBytesPerMs: number,
    mss: number,
    cwnd: number,
  ): void {
    if (roundStart && ++this.extraAckedWindowRounds >= EXTRA_ACKED_WINDOW_ROUNDS) {
      this.extraAckedWindowRounds = 0;
      this.extraAckedPrevious = this.extraAckedCurrent;
      this.extraAckedCurrent = 0;
    }
    const epochMs = this.ackEpochStartMs === undefined ? 0 : now - this.ackEpochStartMs;
    let expected = bottleneckBandwidthBytesPerMs * epochMs;
    if (
      this.ackEpochStartMs === undefined ||
      this.ackEpochAcked <= expected ||
      this.ackEpochAcked + acked >= Math.max(ACK_EPOCH_RESET_BYTES, 16 * mss)
    ) {
      // ACKs at or below the expected rate (or a stale epoch): a new epoch starts here.
      this.ackEpochAcked = 0;
      this.ackEpochStartMs = now;
      expected = 0;
    }
    this.ackEpochAcked += acked;
    const extra = Math.min(this.ackEpochAcked - expected, cwnd);
    if (extra > this.extraAckedCurrent) this.extraAckedCurrent = extra;
  }
}
