import { afterEach, describe, expect, it } from 'vitest';
import * as Comlink from 'comlink';
import { createPipelineWorkerApi, type PipelineWorkerApi } from './pipeline-worker-api.ts';
import type { PipelineBatch, Slice } from '../block-pipeline.ts';

// Every MessagePort made while the test runs, and which of them were closed (Node ports say so with 'close').
const RealChannel = globalThis.MessageChannel;
const made: { port: MessagePort; closed: boolean }[] = [];
class CountingChannel extends RealChannel {
  constructor() {
    super();
    for (const port of [this.port1, this.port2]) {
      const rec = { port, closed: false };
      made.push(rec);
      (port as unknown as { once(e: 'close', cb: () => void): void }).once('close', () => (rec.closed = true));
    }
  }
}

afterEach(() => {
  globalThis.MessageChannel = RealChannel;
  made.length = 0;
});

describe('upload worker API over comlink', () => {
  it('closes the claim and batch callback ports when a run ends (three runs leave none open)', async () => {
    const { port1, port2 } = new RealChannel();
    Comlink.expose(createPipelineWorkerApi(), port1);
    const worker = Comlink.wrap<PipelineWorkerApi>(port2);
    const image = new Uint8Array(6 * 524288).map((_, i) => (i * 31) & 0xff);
    await worker.open({ file: new Blob([image]) });
    globalThis.MessageChannel = CountingChannel;
    for (let run = 0; run < 3; run++) {
      let next = 0;
      const claim = async (): Promise<Slice | null> => (next < 6 ? { first: next, count: (next += 3, 3) } : null);
      const batches: PipelineBatch[] = [];
      const out = await worker.run(
        { blockCount: 6, done: new Uint8Array(1), skipZeros: false, floor: 1, ceiling: 2 },
        Comlink.proxy(claim),
        Comlink.proxy((b: PipelineBatch) => void batches.push(b)),
      );
      expect(out).toBeDefined();
      expect(batches.length).toBeGreaterThan(0);
    }
    // Each run transferred two callback channels; the worker released both ends of each.
    expect(made.length).toBe(12);
    await new Promise((r) => setTimeout(r, 50));
    expect(made.filter((m) => !m.closed)).toHaveLength(0);
    port2.close();
  });
});
