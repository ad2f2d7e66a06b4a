// Sending one block until the service has it: retries with backoff, the pacer's window, and the link watch, which
// during a silence keeps one probe on the wire and the other blocks waiting (no attempt spent on an outage).
import { toBase64 } from '../block-digest.ts';
import { describeFailure, type FailureInfo } from '../failure.ts';
import type { LinkWatch } from '../link-watch.ts';
import type { PacerLike } from '../pacer.ts';
import { backoffMs, classifyFailure, isUnanswered, shouldRetry, sleep, type FailureClass } from '../retry.ts';
import type { BatchOutbox } from './batch-outbox.ts';
import type { RunVerdict } from './run-verdict.ts';

/** Sends one block (its bytes, or a Blob of exactly those bytes over the file); throws SDK errors as they come. */
export interface BlockSink {
  put(index: number, body: Uint8Array | Blob, checksumBase64: string): Promise<void>;
}

/** The sentence when the service stayed silent past the snapshot's Timeout. */
function silentTooLong(silenceMs: number, limitMs: number): FailureInfo {
  return {
    message: `The service has not answered for ${Math.round(silenceMs / 60_000)} minutes, longer than the snapshot's ${Math.round(limitMs / 60_000)}-minute Timeout, so the snapshot has probably expired. Once the network is back, resume: the upload then says whether the snapshot is still there or must be started again.`,
    code: 'offline',
  };
}

/**
 * Attempts of a 404 that answers the first requests after a silence, once the snapshot had taken blocks: the lag
 * right after StartSnapshot is long over, so the snapshot most likely timed out while the network was down; the run
 * ends and asks EC2 what became of it, rather than spending the start lag's dozen attempts.
 */
const LAG_ATTEMPTS_AFTER_SILENCE = 3;

/** Sends a run's blocks through the sink (none in a dry run), each in a pacer slot the caller has taken. */
export class BlockTransmitter {
  private shownWaiting = false;
  /** The snapshot had accepted a block in this run, then the service went silent; reset by the next block accepted. */
  private silentSinceAccepted = false;
  private accepted = false;

  constructor(
    private readonly sink: BlockSink | null,
    private readonly pacer: PacerLike,
    private readonly link: LinkWatch,
    private readonly outbox: BatchOutbox,
    private readonly verdict: RunVerdict,
    private readonly opts: {
      /** How long a silent service is waited for before the run fails, ms. */
      silenceLimitMs: number;
      /** After a failed put of a body read from the file: a failure when the file no longer holds the bytes hashed. */
      recheck: (index: number, digest: Uint8Array) => Promise<FailureInfo | null>;
    },
  ) {}

  /** Sends with retry; the pacer slot taken by the caller is released here. */
  async send(index: number, digest: Uint8Array, body: Uint8Array | Blob): Promise<void> {
    const { pacer, link, verdict } = this;
    const checksum = toBase64(digest);
    const fromFile = !(body instanceof Uint8Array);
    for (let attempt = 1, first = true; ; attempt++, first = false) {
      if (first && link.waiting) {
        // The service went silent while this block waited for its slot: it waits for the link like the retries,
        // so during a silence only the probe is on the wire.
        pacer.release({ ok: false });
        await link.pass();
        if (verdict.ending) return;
        await pacer.acquire();
      }
      const t0 = performance.now();
      const sentAt = Date.now();
      try {
        if (this.sink) await this.sink.put(index, body, checksum);
        const latencyMs = performance.now() - t0;
        link.answered();
        this.accepted = true;
        this.silentSinceAccepted = false;
        this.noteLink();
        const answeredAt = performance.now();
        this.outbox.written(index, digest, () => pacer.release({ ok: true, latencyMs, heldMs: performance.now() - answeredAt }));
        return;
      } catch (err) {
        const cls: FailureClass = classifyFailure(err);
        pacer.release({ ok: false, throttled: cls === 'throttle' });
        // No answer at all while nothing else was answered either: the link is down, not this block's luck, so the
        // attempt is not counted and the retry waits for the link (one probe at a time) until the Timeout runs out.
        const outage = isUnanswered(err) ? link.unanswered(sentAt) : (link.answered(), false);
        if (outage && this.accepted) this.silentSinceAccepted = true;
        this.noteLink();
        const changed = fromFile && !verdict.failure ? await this.opts.recheck(index, digest) : null;
        if (outage && link.silenceMs() > this.opts.silenceLimitMs && !verdict.failure) verdict.fail(silentTooLong(link.silenceMs(), this.opts.silenceLimitMs));
        const lagOver = cls === 'lag' && this.silentSinceAccepted && attempt >= LAG_ATTEMPTS_AFTER_SILENCE;
        if (changed || (!outage && (!shouldRetry(cls, attempt) || lagOver)) || verdict.failure) {
          // Blocks waiting for the link wait no more: the run is ending.
          verdict.fail(changed ?? describeFailure(err, { index }));
          return;
        }
        if (outage) attempt--;
        this.outbox.retrying(index);
        if (!outage) await sleep(backoffMs(attempt, cls));
        await link.pass();
        // Paused or failed meanwhile: the block stays unrecorded and is sent again by the next pass.
        if (verdict.ending) return;
        await pacer.acquire();
      }
    }
  }

  /** Tells the coordinator when the link goes silent or answers again. */
  private noteLink(): void {
    if (this.link.waiting === this.shownWaiting) return;
    this.shownWaiting = this.link.waiting;
    this.outbox.linkChanged();
  }
}
