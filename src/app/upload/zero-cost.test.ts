import { describe, expect, it } from 'vitest';
import { sendLine, skipLabel, zeroCost } from './zero-cost.ts';

describe('the cost of zero blocks, in words', () => {
  // 20 GiB image of which 3.6 GiB hold data.
  const plan = { blockCount: 40960, blocksToSend: 7373 };
  it('counts every block by default, and the zero ones apart', () => {
    expect(zeroCost(plan)).toEqual({ allBytes: 40960 * 524288, dataBytes: 7373 * 524288, zeroBytes: (40960 - 7373) * 524288 });
    expect(sendLine(plan, false)).toBe('20.0 GiB to send, of which 16.4 GiB are zero blocks');
    expect(sendLine({ blockCount: 8, blocksToSend: 8 }, false)).toBe('4.00 MiB to send');
  });
  it('says what skipping saves and when it is safe', () => {
    expect(sendLine(plan, true)).toBe('3.60 GiB to send; 16.4 GiB of empty blocks skipped');
    expect(skipLabel(plan)).toBe('Skip empty blocks: sends 3.60 GiB instead of 20.0 GiB; only safe if volumes made from this snapshot are never encrypted');
  });
  it('a raw image shows no empty blocks before reading: the words do not promise a saving', () => {
    const raw = { blockCount: 8, blocksToSend: 8 };
    expect(sendLine(raw, true)).toBe('up to 4.00 MiB to send; empty blocks found while reading are skipped');
    expect(skipLabel(raw)).toBe('Skip empty blocks (found while reading); only safe if volumes made from this snapshot are never encrypted');
  });
});
