// One pacer for a link, shared by the pipelines that send over it (a tab's upload workers to one service): pacers of
// their own each took the others' queue for the link's round trip, and together kept about ten times its
// bandwidth-delay product in flight. The session owns the Pacer and lends each pipeline a lease; a pipeline in a worker
// reaches its lease over comlink (the pacer has no timers, so a hidden tab's throttled timers do not slow it).
import type { PacerLike, PacerOutcome } from './pacer.ts';

/** A lease as it crosses to a pipeline (plain methods: a comlink proxy of it has the same shape). */
export interface PacerPort {
  /** Takes a slot; resolves with the window at that moment. */
  acquire(): Promise<number>;
  release(outcome: PacerOutcome): void | Promise<void>;
}

/** A lease on the shared pacer for one pipeline: close() gives back the slots its pipeline still held. */
export interface PacerLease {
  port: PacerPort;
  close(): void;
}

/**
 * Lends `pacer` to one pipeline. The pipeline's slots are counted, so when it ends without releasing them (its worker
 * was stopped or ended mid-send), close() frees them and the other pipelines keep the whole window; a release that
 * arrives after close() is ignored.
 */
export function leasePacer(pacer: PacerLike): PacerLease {
  let held = 0;
  let closed = false;
  return {
    port: {
      async acquire() {
        await pacer.acquire();
        if (closed) {
          pacer.release({ ok: true, abandoned: true });
          throw new Error('the upload pass this block belonged to has ended');
        }
        held++;
        return pacer.limit;
      },
      release(outcome) {
        if (closed || held === 0) return;
        held--;
        pacer.release(outcome);
      },
    },
    close() {
      closed = true;
      for (; held > 0; held--) pacer.release({ ok: true, abandoned: true });
    },
  };
}

/**
 * A pipeline's side of a lease: a PacerLike that counts its own requests in flight (what its progress reports) and
 * knows the window as of its last acquire (the port may be a comlink proxy: nothing on it is synchronous).
 */
export class LeasedPacer implements PacerLike {
  private inFlight = 0;
  private window: number;

  constructor(
    private readonly port: PacerPort,
    initialLimit: number,
  ) {
    this.window = initialLimit;
  }

  get active(): number {
    return this.inFlight;
  }

  get limit(): number {
    return this.window;
  }

  async acquire(): Promise<void> {
    this.window = await this.port.acquire();
    this.inFlight++;
  }

  release(outcome: PacerOutcome = { ok: true }): void {
    this.inFlight--;
    // Fire and forget: a lost release (the session gone) has nothing left to pace.
    void Promise.resolve(this.port.release(outcome)).catch(() => undefined);
  }
}
