// A pipeline runner over a succession of workers: a worker retires once it has claimed its share of blocks, and a
// fresh one carries on. Chromium reclaims what fetch, streams and the SDK leave behind per block (tens of KiB of Blink
// and V8 objects) only in a worker's full collections, about every 30 s under upload, so a long-lived worker's heaps
// grow with the image; a fresh worker starts empty. Measured on a 4 GiB upload (npm run bench:memory): the peak of the
// browser's processes went from 518–525 MiB to 473–484 MiB at the same speed (README, "Reading it").
import type { PipelineBatch, PipelineOutcome, PipelineSpec, Slice } from '../block-pipeline.ts';
import type { PipelineRunner } from './upload-session.ts';

/** One worker: its runner, and how to end it (the worker and anything it holds, such as a credential port). */
export interface WorkerSlot {
  runner: PipelineRunner;
  terminate(): void;
}

/** A runner whose worker is replaced every `retireAfterBlocks` claimed blocks; terminate() ends whichever is current. */
export interface RecyclingRunner extends PipelineRunner {
  terminate(): void;
  /** Workers started to replace retired ones so far. */
  readonly replacements: number;
}

/**
 * Runs on `first`, then on workers from `spawn`. The claim that finds a worker's share used up is not lost: it goes
 * to the successor, which starts while the retiring worker drains its blocks in flight. The successor's pacer
 * starts at the window the retiring one had reached. A successor that cannot start rejects the run (the session
 * records the failure; the job stays resumable). retireAfterBlocks ≤ 0: never retire.
 */
export function recyclingRunner(first: WorkerSlot, spawn: () => Promise<WorkerSlot>, retireAfterBlocks: number): RecyclingRunner {
  let current = first;
  let successor: Promise<WorkerSlot> | null = null;
  let stopped = false;
  let ended = false;
  let replacements = 0;
  const discard = (p: Promise<WorkerSlot> | null) => void p?.then((s) => s.terminate(), () => undefined);

  return {
    get replacements() {
      return replacements;
    },

    async run(spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown): Promise<PipelineOutcome> {
      stopped = false;
      let initial: number | undefined;
      // A successor inherits that the service answered: a silence it meets is an outage to wait out.
      let answered = spec.linkAnswered ?? false;
      let carried: Slice | null = null;
      for (;;) {
        let left = retireAfterBlocks;
        let retiring = false;
        const share = async (): Promise<Slice | null> => {
          if (carried) {
            const s = carried;
            carried = null;
            left -= s.count;
            return s;
          }
          if (retiring || stopped || ended) return null;
          const s = await claim();
          if (!s) return null;
          if (retireAfterBlocks > 0 && left <= 0) {
            retiring = true;
            carried = s;
            replacements++;
            successor = spawn();
            // Observed here so a failed start is not an unhandled rejection before the drain ends.
            successor.catch(() => undefined);
            return null;
          }
          left -= s.count;
          return s;
        };
        const track = (b: PipelineBatch) => {
          initial = b.concurrency;
          if (b.written.length) answered = true;
          return onBatch(b);
        };
        const out = await current.runner.run(initial === undefined ? spec : { ...spec, initial, linkAnswered: answered }, share, track);
        if (!retiring) return out;
        const next = successor!;
        successor = null;
        // Stopped, failed or ended while retiring: the carried slice was never sent, and a later pass claims it again.
        if (out.kind !== 'finished' || stopped || ended) {
          discard(next);
          return out;
        }
        const slot = await next;
        current.terminate();
        current = slot;
        if (ended) {
          slot.terminate();
          return out;
        }
        if (stopped) return out;
      }
    },

    async stop() {
      stopped = true;
      await current.runner.stop();
    },

    terminate() {
      ended = true;
      current.terminate();
      discard(successor);
      successor = null;
    },
  };
}
