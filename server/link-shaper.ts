// A link of limited bandwidth shared by every connection: request bodies pass through one token bucket (the uplink) and
// response bodies through another of the same rate (the downlink), so "a laptop on 200 Mbit/s" is one flag, whatever
// the number of connections or HTTP/2 streams.

/** Bytes the link lets through at once without waiting (one TCP window's worth). */
export const LINK_BURST_BYTES = 64 * 1024;
/** Size of the pieces a shaped response is written in, so bodies of many connections interleave. */
export const LINK_CHUNK_BYTES = 16 * 1024;

/**
 * A token bucket in virtual scheduling form: `reserve(n)` books n bytes on the link and says how long the caller must
 * wait before they may pass. Bookings are served in the order they were made; the clock is injectable for tests.
 */
export class TokenBucket {
  /** The time the link has carried everything booked so far (ms). */
  private busyUntil = -Infinity;

  constructor(
    /** Bytes per second; 0 or less = unlimited. */
    private readonly rate: () => number,
    private readonly now: () => number = () => performance.now(),
    private readonly burstBytes: number = LINK_BURST_BYTES,
  ) {}

  /** Books `bytes` on the link; returns the ms to wait before they may pass (0 when the link is free or unlimited). */
  reserve(bytes: number): number {
    const rate = this.rate();
    if (!(rate > 0)) return 0;
    const t = this.now();
    const burstMs = (this.burstBytes / rate) * 1000;
    // An idle link has at most a burst of credit saved up.
    const start = Math.max(this.busyUntil, t - burstMs);
    this.busyUntil = start + (bytes / rate) * 1000;
    return Math.max(0, this.busyUntil - t);
  }
}

/**
 * Both directions of one link. Real links are full duplex: a small answer going down does not queue behind the
 * uploads going up, which one shared bucket would make it do (an extra queueing delay on every round trip).
 */
export interface DuplexLink {
  /** Request bodies, client to server. */
  up: TokenBucket;
  /** Response bodies, server to client. */
  down: TokenBucket;
}

/** A link of `rate` bytes per second in each direction. */
export function duplexLink(rate: () => number, now?: () => number): DuplexLink {
  return { up: new TokenBucket(rate, now), down: new TokenBucket(rate, now) };
}

/** Waits `ms` (resolves at once for 0). */
export function linkWait(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/** MiB/s from the command line to bytes per second. */
export function mibpsToBytes(mibps: number): number {
  return mibps * 1048576;
}
