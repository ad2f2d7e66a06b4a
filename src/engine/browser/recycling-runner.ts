// A pipeline runner over a worker bridge whose worker retires once it has claimed its share of blocks, a fresh one
// carrying on. Chromium reclaims what fetch, streams and the SDK leave behind per block (tens of KiB of Blink and V8
// objects) only in a worker's full collections, about every 30 s under upload, so a long-lived worker's heaps grow
// with the image; a fresh worker starts empty. Measured on a 4 GiB upload (npm run bench:memory): the peak of the
// browser's processes went from 518–525 MiB to 473–484 MiB at the same speed (README, "Reading it").
import type { PipelineBatch, PipelineOutcome, PipelineSpec, Slice } from '../block-pipeline.ts';
import type { PacerPort } from '../pacer-lease.ts';
import type { PipelineRunner } from '../upload/upload-session.ts';
import { WorkerEndedError, type WorkerBridge } from './worker-bridge.ts';

/** A runner whose worker is replaced after its share of claimed blocks; terminate() ends whichever is current. */
export interface RecyclingRunner extends PipelineRunner {
  terminate(): void;
  /** Workers started to replace retired ones so far. */
  readonly replacements: number;
}

/**
 * Runs pipelines on the bridge's worker; its share is the bridge's `recycleAfter`, counted in claimed blocks. The
 * claim that finds a worker's share used up is not lost: it goes to the successor, which starts while the retiring
 * worker drains its blocks in flight. The successor sends under the same lease on the session's pacer (one without a
 * lease paces itself from the window the retiring one had reached). A
 * successor that cannot start rejects the run (the session records the failure; the job stays resumable).
 */
export function recyclingRunner<Api extends PipelineRunner>(bridge: WorkerBridge<Api>): RecyclingRunner {
  let stopped = false;
  let ended = false;
  let replacements = 0;

  return {
    get replacements() {
      return replacements;
    },

    async run(spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown, pacer?: PacerPort): Promise<PipelineOutcome> {
      stopped = false;
      let initial: number | undefined;
      // A successor inherits that the service answered: a silence it meets is an outage to wait out.
      let answered = spec.linkAnswered ?? false;
      let carried: Slice | null = null;
      for (;;) {
        let retiring = false;
        const share = async (): Promise<Slice | null> => {
          // Stopped or ended: nothing more is sent; a carried slice is claimed again by a later pass.
          if (retiring || stopped || ended) return null;
          if (carried) {
            const s = carried;
            carried = null;
            bridge.spend(s.count);
            return s;
          }
          const s = await claim();
          if (!s) return null;
          if (bridge.worn) {
            retiring = true;
            carried = s;
            replacements++;
            bridge.prepare();
            return null;
          }
          bridge.spend(s.count);
          return s;
        };
        const track = (b: PipelineBatch) => {
          initial = b.concurrency;
          if (b.written.length) answered = true;
          return onBatch(b);
        };
        const passSpec = initial === undefined ? spec : { ...spec, initial, linkAnswered: answered };
        let out: PipelineOutcome;
        try {
          // A worn worker's successor takes over at this call (and a successor that failed to start rejects it).
          out = await bridge.call(({ api }) => api.run(passSpec, share, track, pacer));
        } catch (err) {
          if (ended && err instanceof WorkerEndedError) return { kind: 'stopped' };
          throw err;
        }
        // Stopped, failed or ended while retiring: the successor (if it starts) waits for the next pass.
        if (!retiring || out.kind !== 'finished' || stopped || ended) return out;
      }
    },

    async stop() {
      stopped = true;
      await bridge.interrupt(({ api }) => Promise.resolve(api.stop()));
    },

    terminate() {
      ended = true;
      bridge.terminate();
    },
  };
}
