// What writing or skipping empty blocks costs, in the words the Upload form and the plan use.
import { BLOCK_SIZE, type UploadPlan } from '../../engine/api.ts';
import { formatBytes } from '../shared/format.ts';

type PlanCounts = Pick<UploadPlan, 'blockCount' | 'blocksToSend'>;

/** Bytes sent when every block is written, when empty ones are skipped, and the difference (the image's tables' view). */
export function zeroCost(plan: PlanCounts): { allBytes: number; dataBytes: number; zeroBytes: number } {
  const allBytes = plan.blockCount * BLOCK_SIZE;
  const dataBytes = plan.blocksToSend * BLOCK_SIZE;
  return { allBytes, dataBytes, zeroBytes: allBytes - dataBytes };
}

/**
 * The plan's line: "20.0 GiB to send, of which 16.4 GiB are zero blocks", or what is left when they are skipped.
 * A raw image has no tables: its empty blocks are only found while reading.
 */
export function sendLine(plan: PlanCounts, skip: boolean): string {
  const c = zeroCost(plan);
  if (skip && c.zeroBytes === 0) return `up to ${formatBytes(c.allBytes)} to send; empty blocks found while reading are skipped`;
  if (skip) return `${formatBytes(c.dataBytes)} to send; ${formatBytes(c.zeroBytes)} of empty blocks skipped`;
  return c.zeroBytes > 0 ? `${formatBytes(c.allBytes)} to send, of which ${formatBytes(c.zeroBytes)} are zero blocks` : `${formatBytes(c.allBytes)} to send`;
}

/** The label of the Upload form's choice. */
export function skipLabel(plan: PlanCounts): string {
  const c = zeroCost(plan);
  if (c.zeroBytes === 0) return 'Skip empty blocks (found while reading); only safe if volumes made from this snapshot are never encrypted';
  return `Skip empty blocks: sends ${formatBytes(c.dataBytes)} instead of ${formatBytes(c.allBytes)}; only safe if volumes made from this snapshot are never encrypted`;
}
