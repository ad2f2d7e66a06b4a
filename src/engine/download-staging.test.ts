import { describe, expect, it } from 'vitest';
import { DownloadError } from './download-error.ts';
import { checkRoom, copyStagedFile, explainStagingError, type WritableSink } from './download-staging.ts';

const MiB = 1048576;

function sink(): WritableSink & { parts: Uint8Array[]; closed: boolean; aborted: boolean } {
  const s = {
    parts: [] as Uint8Array[],
    closed: false,
    aborted: false,
    async write(b: Blob) {
      s.parts.push(new Uint8Array(await b.arrayBuffer()));
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

describe('copyStagedFile', () => {
  const data = new Uint8Array(5 * MiB + 123).map((_, i) => (i * 7) & 0xff);

  it('writes the staged bytes front to back in slices, reports progress, then commits', async () => {
    const s = sink();
    const seen: number[] = [];
    await copyStagedFile(new Blob([data]), async () => s, { sliceBytes: 2 * MiB, onProgress: (d) => seen.push(d) });
    expect(s.parts.map((p) => p.length)).toEqual([2 * MiB, 2 * MiB, MiB + 123]);
    const joined = new Uint8Array(await new Blob(s.parts as BlobPart[]).arrayBuffer());
    expect(joined.length).toBe(data.length);
    expect(joined.every((b, i) => b === data[i])).toBe(true);
    expect(seen).toEqual([0, 2 * MiB, 4 * MiB, data.length]);
    expect(s.closed).toBe(true);
    expect(s.aborted).toBe(false);
  });

  it('on cancel discards the uncommitted file (abort, never close) and says so', async () => {
    const s = sink();
    const ac = new AbortController();
    const run = copyStagedFile(new Blob([data]), async () => s, {
      sliceBytes: MiB,
      signal: ac.signal,
      onProgress: (d) => {
        if (d >= 2 * MiB) ac.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    expect(s.closed).toBe(false);
    expect(s.aborted).toBe(true);
    expect(s.parts.length).toBe(2);
  });

  it('a failed write aborts the file and passes the error on', async () => {
    const s = sink();
    s.write = async () => {
      throw Object.assign(new Error('disk full'), { name: 'QuotaExceededError' });
    };
    await expect(copyStagedFile(new Blob([data]), async () => s)).rejects.toThrow('disk full');
    expect(s.aborted).toBe(true);
    expect(s.closed).toBe(false);
  });
});
