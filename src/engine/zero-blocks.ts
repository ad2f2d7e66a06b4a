// Whether empty blocks are written or skipped: the person's choice, overruled by the service's encryption.

/** Empty (zero) blocks: 'write' them so the snapshot reads back identical on any volume (default), or 'skip' them. */
export type ZeroBlocks = 'write' | 'skip';

/** What a run does with empty blocks, and the sentence saying why when it overrules a choice to skip them. */
export interface ZeroBlocksDecision {
  /** Empty blocks of a new snapshot (no parent) are left unwritten. */
  skip: boolean;
  /**
   * Over a parent: an empty block where the parent has a hole is written too, because the snapshot is encrypted and
   * a hole of an encrypted snapshot does not read back as zeros. Unset: the hole is inherited (it reads as zeros).
   */
  fillParentHoles?: boolean;
  note?: string;
}

/**
 * The choice a job holds. Records made before the choice existed skipped empty blocks of a new unencrypted snapshot
 * without a parent; they keep doing so, so a resumed job does not change course halfway.
 */
export function zeroBlocksChoice(job: { zeroBlocks?: ZeroBlocks; params: { encrypted?: boolean; parentSnapshotId?: string } }): ZeroBlocks {
  if (job.zeroBlocks) return job.zeroBlocks;
  return !job.params.encrypted && !job.params.parentSnapshotId ? 'skip' : 'write';
}

/** True when the service answered StartSnapshot with an encrypted snapshot (SseType sse-ebs or sse-kms). */
export function serviceEncrypts(sseType: string | null | undefined): boolean {
  return !!sseType && sseType !== 'none';
}

/**
 * Decides for a run: empty blocks are skipped only when skipping was chosen, for a new snapshot without a parent
 * (a version over a parent has its own rule: zeros over parent data are written, a hole stays a hole), and when
 * neither the request, the parent nor the service's answer (`sseType`, unknown before StartSnapshot) is encrypted:
 * unwritten blocks of an encrypted snapshot do not read back as zeros, so then every empty block is written, over
 * parent holes too.
 */
export function decideZeroBlocks(a: {
  choice: ZeroBlocks;
  encrypted?: boolean;
  parentSnapshotId?: string;
  parentEncrypted?: boolean;
  sseType?: string | null;
}): ZeroBlocksDecision {
  const chosenSkip = a.choice === 'skip';
  if (a.parentSnapshotId) {
    if (!a.parentEncrypted && !serviceEncrypts(a.sseType)) return { skip: false };
    const why = serviceEncrypts(a.sseType) ? `This new version is encrypted (${a.sseType})` : 'The parent snapshot is encrypted';
    return {
      skip: false,
      fillParentHoles: true,
      ...(chosenSkip ? { note: `${why}, so empty blocks are written as well, over the parent's holes too: unwritten blocks of an encrypted snapshot do not read back as zeros.` } : {}),
    };
  }
  if (!chosenSkip) return { skip: false };
  if (a.encrypted) return { skip: false, note: 'The snapshot is encrypted, so empty blocks are written as well: unwritten blocks of an encrypted snapshot do not read back as zeros.' };
  if (serviceEncrypts(a.sseType))
    return {
      skip: false,
      note: `The service encrypts this snapshot (${a.sseType}, the account's encryption by default), so empty blocks are written as well: unwritten blocks of an encrypted snapshot do not read back as zeros.`,
    };
  return { skip: true };
}
