// A file's fingerprint: name, size, lastModified and the SHA-256 of its first and last 512 KiB.
import { BLOCK_SIZE, type ByteSource } from '../images/types.ts';
import type { Fingerprint } from './upload-types.ts';
import { toBase64, type Sha256 } from './block-digest.ts';

/** Computes the fingerprint of a source (raw file bytes, not the virtual disk). */
export async function fingerprintOf(source: ByteSource, meta: { name: string; lastModified: number }, sha256: Sha256): Promise<Fingerprint> {
  const first = await source.read(0, BLOCK_SIZE);
  const lastAt = Math.max(0, source.size - BLOCK_SIZE);
  const last = await source.read(lastAt, source.size - lastAt);
  return {
    name: meta.name,
    size: source.size,
    lastModified: meta.lastModified,
    firstBlockSha256: toBase64(await sha256(first)),
    lastBlockSha256: toBase64(await sha256(last)),
  };
}

/** How a mismatch is told: a page names the file in quotes and speaks of this upload, the CLI names the path and its state file. */
export interface MismatchWords {
  /** The file as it is named now. */
  file: string;
  /** The upload being resumed. */
  upload: string;
  /** The way forward. */
  advice: string;
}

/** The page's words, for a file picked in it. */
export function pickedFileWords(name: string): MismatchWords {
  return { file: `"${name}"`, upload: 'this upload', advice: 'Pick the original file, or start a new upload.' };
}

/** The sentence for a fingerprint that does not match, or undefined when it does. lastModified alone is only noted when content differs too. */
export function fingerprintMismatch(saved: Fingerprint, now: Fingerprint, words: MismatchWords = pickedFileWords(now.name)): string | undefined {
  const { file, upload, advice } = words;
  if (saved.size !== now.size) return `The file ${file} is ${now.size} bytes, but the upload was started from "${saved.name}" of ${saved.size} bytes. ${advice}`;
  if (saved.firstBlockSha256 !== now.firstBlockSha256 || saved.lastBlockSha256 !== now.lastBlockSha256)
    return `The content of ${file} differs from the file ${upload} was started from ("${saved.name}"). ${advice}`;
  if (saved.lastModified !== now.lastModified)
    return `${file} was modified since ${upload} started (${new Date(saved.lastModified).toISOString()} → ${new Date(now.lastModified).toISOString()}). ${advice}`;
  return undefined;
}
