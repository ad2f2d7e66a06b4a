import { describe, expect, it } from 'vitest';
import { DownloadError } from '../download/download-error.ts';
import { BlockSlots, checkRoom, explainStagingError, writeStagedFile, type WritableSink } from './download-staging.ts';
import { bitmapSet } from '../download/download.ts';

const MiB = 1048576;

/** A writable that materializes the file it would commit. */
function sink(): WritableSink & { file: Uint8Array; writes: number[][]; closed: boolean; aborted: boolean } {
  const s = {
    file: new Uint8Array(0),
    writes: [] as number[][],
    closed: false,
    aborted: false,
    async truncate(n: number) {
      const next = new Uint8Array(n);
      next.set(s.file.subarray(0, n));
      s.file = next;
    },
    async write(w: { position: number; data: Blob }) {
      const bytes = new Uint8Array(await w.data.arrayBuffer());
      s.writes.push([w.position, bytes.length]);
      if (w.position + bytes.length > s.file.length) throw new Error('past the end');
      s.file.set(bytes, w.position);
    },
    async close() {
      s.closed = true;
    },
    async abort() {
      s.aborted = true;
    },
  };
  return s;
}

function mapOf(blocks: number[], bits = 64): Uint8Array {
  const m = new Uint8Array(bits / 8);
  for (const i of blocks) bitmapSet(m, i);
  return m;
}

describe('BlockSlots', () => {
  it('numbers the written blocks in order and groups consecutive ones into runs', () => {
    const blocks = [0, 1, 2, 5, 9, 10, 700, 701, 4000];
    const slots = new BlockSlots(mapOf(blocks, 4096 * 2));
    expect(slots.count).toBe(blocks.length);
    expect(blocks.map((i) => slots.slot(i))).toEqual(blocks.map((_, k) => k));
    expect([...slots.runs()]).toEqual([
      [0, 3, 0],
      [5, 1, 3],
      [9, 2, 4],
      [700, 2, 6],
      [4000, 1, 8],
    ]);
    expect([...new BlockSlots(new Uint8Array(16)).runs()]).toEqual([]);
  });
});

describe('checkRoom', () => {
  it('passes when the growth fits, or when the quota is unknown', () => {
    expect(() => checkRoom(100 * MiB, { usage: 0, quota: 200 * MiB }, 'a.img')).not.toThrow();
    expect(() => checkRoom(100 * MiB, {}, 'a.img')).not.toThrow();
    expect(() => checkRoom(0, { usage: 10, quota: 10 }, 'a.img')).not.toThrow();
  });

  it('stops with a sentence that names the file, the need and the room', () => {
    let err: unknown;
    try {
      checkRoom(3 * 1024 * MiB, { usage: 900 * MiB, quota: 1024 * MiB }, 'disk.raw');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('target');
    expect((err as Error).message).toMatch(/disk\.raw .* needs 3\.0 GiB more, but the browser allows only 124 MiB more/);
    expect((err as Error).message).toMatch(/then resume/);
  });

  it('turns a QuotaExceededError into a sentence and leaves other errors alone', () => {
    const q = Object.assign(new Error('quota'), { name: 'QuotaExceededError' });
    expect((explainStagingError(q, 'x.img') as Error).message).toMatch(/storage for this site filled up while x\.img/);
    const other = new Error('other');
    expect(explainStagingError(other, 'x.img')).toBe(other);
  });
});

describe('writeStagedFile', () => {
  const BS = 4096;
  // Blocks 1, 2, 3, 7 and the partial last block 9 of a 9.5-block file, packed in five slots.
  const written = [1, 2, 3, 7, 9];
  const size = 9 * BS + BS / 2;
  const staged = new Uint8Array(written.length * BS);
  written.forEach((i, k) => staged.fill(i + 1, k * BS, k * BS + (i === 9 ? BS / 2 : BS)));
  const want = new Uint8Array(size);
  for (const i of written) want.fill(i + 1, i * BS, Math.min(size, (i + 1) * BS));

  it('puts every staged block at its offset, holes unwritten, at the exact size, then commits', async () => {
    const s = sink();
    const seen: number[] = [];
    await writeStagedFile(new Blob([staged]), mapOf(written), size, BS, async () => s, { maxWriteBytes: 2 * BS, onProgress: (d: number) => seen.push(d) });
    expect(s.file.length).toBe(size);
    expect(s.file.every((b, i) => b === want[i])).toBe(true);
    // Runs [1..3] (cut to two-block writes), [7], [9] (half a block).
    expect(s.writes).toEqual([[BS, 2 * BS], [3 * BS, BS], [7 * BS, BS], [9 * BS, BS / 2]]);
    expect(seen.at(-1)).toBe(4 * BS + BS / 2);
    expect(s.closed).toBe(true);
    expect(s.aborted).toBe(false);
  });

  it('on cancel discards the uncommitted file (abort, never close) and says so', async () => {
    const s = sink();
    const ac = new AbortController();
    const run = writeStagedFile(new Blob([staged]), mapOf(written), size, BS, async () => s, {
      maxWriteBytes: BS,
      signal: ac.signal,
      onProgress: (d: number) => {
        if (d >= 2 * BS) ac.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    expect(s.closed).toBe(false);
    expect(s.aborted).toBe(true);
    expect(s.writes.length).toBe(2);
  });

  it('a failed write aborts the file and passes the error on; a short staged copy is refused', async () => {
    const s = sink();
    s.write = async () => {
      throw Object.assign(new Error('disk full'), { name: 'QuotaExceededError' });
    };
    await expect(writeStagedFile(new Blob([staged]), mapOf(written), size, BS, async () => s)).rejects.toThrow('disk full');
    expect(s.aborted).toBe(true);
    expect(s.closed).toBe(false);
    const t = sink();
    await expect(writeStagedFile(new Blob([staged.subarray(0, 2 * BS)]), mapOf(written), size, BS, async () => t)).rejects.toMatchObject({ code: 'resume' });
    expect(t.closed).toBe(false);
  });
});
