import { describe, expect, it } from 'vitest';
import { ListChangedBlocksCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { createMemoryEmulator } from '../emulator/index.ts';
import { compareSnapshots, sideOf } from './compare.ts';
import { blockMap, comparisonToCsv, comparisonToJson } from './compare-export.ts';
import { DownloadError } from './download/download-error.ts';
import { patternBlock, writeSnapshot } from './testing/download-fixture.ts';

const BS = 524288;
const zero = new Uint8Array(BS);

/** ListChangedBlocks straight from the SDK, one big page at a time, as index → side. */
async function raw(ebs: EBSClient, a: string, b: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let next: string | undefined;
  do {
    const r = await ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: a, SecondSnapshotId: b, NextToken: next, MaxResults: 10000 }));
    for (const c of r.ChangedBlocks ?? []) out.set(c.BlockIndex!, c.FirstBlockToken && c.SecondBlockToken ? 'both' : c.FirstBlockToken ? 'first' : 'second');
    next = r.NextToken ?? undefined;
  } while (next);
  return out;
}

describe('compareSnapshots', () => {
  it('reports parent → child changes by side, over several pages, and exports them', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const v1 = new Map<number, Uint8Array>();
    for (let i = 0; i < 10; i++) v1.set(i, patternBlock(i));
    const p = await writeSnapshot(emu.ebs, v1);
    const own = new Map<number, Uint8Array>([[1, patternBlock(100)], [2, patternBlock(2)], [3, zero]]);
    for (let i = 200; i < 330; i++) own.set(i, patternBlock(i));
    const c = await writeSnapshot(emu.ebs, own, { parentSnapshotId: p });

    const pages: number[] = [];
    const cmp = await compareSnapshots({ ebs: emu.ebs, firstSnapshotId: p, secondSnapshotId: c, pageSize: 100, onPage: (n) => pages.push(n) });
    expect(pages.length).toBeGreaterThanOrEqual(2);
    // An identical rewrite (block 2) still counts as changed; new blocks exist only in the second.
    expect(cmp.counts).toEqual({ first: 0, second: 130, both: 3, total: 133 });
    expect(cmp.changedBytes).toBe(133 * BS);
    const mine = new Map([...cmp.indices].map((i, k) => [i, sideOf(cmp.sides[k]!)]));
    expect(mine).toEqual(await raw(emu.ebs, p, c));

    const json = comparisonToJson(cmp);
    expect(JSON.parse(JSON.stringify(json))).toMatchObject({ firstSnapshotId: p, secondSnapshotId: c, volumeSize: 1, blockSize: BS, changedBytes: 133 * BS });
    expect(json.blocks.slice(0, 4)).toEqual([
      { index: 1, side: 'both' },
      { index: 2, side: 'both' },
      { index: 3, side: 'both' },
      { index: 200, side: 'second' },
    ]);
    const csv = comparisonToCsv(cmp).trim().split('\n');
    expect(csv[0]).toBe('block_index,offset,side');
    expect(csv[1]).toBe(`1,${BS},both`);
    expect(csv).toHaveLength(134);
  });

  it('sees blocks only in the first between siblings', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const p = await writeSnapshot(emu.ebs, new Map([[0, patternBlock(1)]]));
    const a = await writeSnapshot(emu.ebs, new Map([[10, patternBlock(10)], [12, patternBlock(12)]]), { parentSnapshotId: p });
    const b = await writeSnapshot(emu.ebs, new Map([[11, patternBlock(11)], [12, patternBlock(13)]]), { parentSnapshotId: p });
    const cmp = await compareSnapshots({ ebs: emu.ebs, firstSnapshotId: a, secondSnapshotId: b });
    expect(comparisonToJson(cmp).blocks).toEqual([
      { index: 10, side: 'first' },
      { index: 11, side: 'second' },
      { index: 12, side: 'both' },
    ]);
    const map = blockMap(cmp, 2048);
    expect(map.reduce((n, c) => n + c.first + c.second + c.both, 0)).toBe(3);
    expect(map[10]).toMatchObject({ start: 10, first: 1, second: 0, both: 0 });
    const coarse = blockMap(cmp, 4);
    expect(coarse).toHaveLength(4);
    expect(coarse[0]).toMatchObject({ start: 0, end: 512, first: 1, second: 1, both: 1 });
  });

  it('gives the service sentence for unrelated snapshots', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const a = await writeSnapshot(emu.ebs, new Map([[0, patternBlock(1)]]));
    const b = await writeSnapshot(emu.ebs, new Map([[0, patternBlock(2)]]));
    const err = await compareSnapshots({ ebs: emu.ebs, firstSnapshotId: a, secondSnapshotId: b }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.code).toBe('unrelated');
    expect(err.message).toContain(`${a} and ${b} are not related`);
  });
});
