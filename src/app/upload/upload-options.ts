import { DEFAULT_TIMEOUT_MINUTES, type UploadOptions } from '../../engine/api.ts';

/** A number field as bound: Svelte gives a number (or null when empty) for type=number, a string elsewhere. */
export type NumberField = string | number | null;

/** The options form as typed, so a half-typed value is refused with a sentence, never turned into NaN. */
export interface OptionsForm {
  description: string;
  /** One `key=value` per line. */
  tags: string;
  volumeSizeGiB: NumberField;
  encrypted: boolean;
  kmsKeyArn: string;
  timeoutMinutes: NumberField;
  concurrency: NumberField;
  /** Snapshot this upload is a new version of; empty = a new snapshot. */
  parentSnapshotId: string;
  /** Without a recorded manifest of the parent: read its blocks or send every block. */
  parentCompare: 'read' | 'all';
  /** Skip empty blocks (off: every block is written, so the snapshot reads back identical even on encrypted volumes). */
  skipZeroBlocks: boolean;
}

export type OptionsField = keyof OptionsForm;

/** Parsed options, or one sentence per field that is wrong. */
export type ParsedOptions =
  | { ok: true; options: UploadOptions }
  | { ok: false; errors: Partial<Record<OptionsField, string>> };

export const TIMEOUT_MIN = 10;
export const TIMEOUT_MAX = 4320;
/** The most a person may set: the browser's memory bound on blocks in flight (128 × 512 KiB = 64 MiB). */
export const CONCURRENCY_MAX = 128;
const VOLUME_MAX_GIB = 65536;
const KMS_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[A-Za-z0-9-]+$/;

/** A fresh form for an image whose smallest volume is `minVolumeGiB`. */
export function defaultOptionsForm(minVolumeGiB: number): OptionsForm {
  return {
    description: '',
    tags: '',
    volumeSizeGiB: String(minVolumeGiB),
    encrypted: false,
    kmsKeyArn: '',
    timeoutMinutes: String(DEFAULT_TIMEOUT_MINUTES),
    // Empty: the pacing finds the link under the memory and transport bound.
    concurrency: '',
    parentSnapshotId: '',
    parentCompare: 'read',
    skipZeroBlocks: false,
  };
}

/** Whether the form can skip empty blocks: only for a new, unencrypted snapshot (a new version has its own rule). */
export function canChooseSkip(form: Pick<OptionsForm, 'encrypted' | 'parentSnapshotId'>): boolean {
  return !form.encrypted && !(form.parentSnapshotId ?? '').trim();
}

/** Parses `key=value` lines into tags, or says which line is wrong and how to fix it. */
export function parseTags(text: string): { tags: Record<string, string> } | { error: string } {
  const tags: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    const where = `Line ${i + 1} ("${line.length > 30 ? line.slice(0, 30) + '…' : line}")`;
    if (eq < 0) return { error: `${where} has no "=": write one tag per line as key=value.` };
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (!key) return { error: `${where} has an empty key: put a name before the "=".` };
    if (key.length > 127) return { error: `${where} has a key longer than 127 characters: shorten it.` };
    if (value.length > 255) return { error: `${where} has a value longer than 255 characters: shorten it.` };
    if (key.toLowerCase().startsWith('aws:')) return { error: `${where} uses the reserved prefix "aws:": choose another key.` };
    if (key in tags) return { error: `${where} repeats the key "${key}": keep one value per key.` };
    tags[key] = value;
    if (++count > 50) return { error: 'A snapshot takes at most 50 tags: remove some lines.' };
  }
  return { tags };
}

function wholeNumber(value: NumberField): number | null {
  const t = String(value ?? '').trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** Checks the form against the image: every problem gets a sentence saying what to enter instead. */
export function parseOptions(form: OptionsForm, minVolumeGiB: number): ParsedOptions {
  const errors: Partial<Record<OptionsField, string>> = {};
  const options: UploadOptions = {};

  const description = form.description.trim();
  if (description.length > 255) errors.description = `The description has ${description.length} characters; EBS takes at most 255.`;
  else if (description) options.description = description;

  const tags = parseTags(form.tags);
  if ('error' in tags) errors.tags = tags.error;
  else if (Object.keys(tags.tags).length) options.tags = tags.tags;

  const volume = wholeNumber(form.volumeSizeGiB);
  if (volume === null) errors.volumeSizeGiB = 'Enter the volume size as a whole number of GiB.';
  else if (volume < minVolumeGiB) errors.volumeSizeGiB = `The image needs at least ${minVolumeGiB} GiB: enter ${minVolumeGiB} or more.`;
  else if (volume > VOLUME_MAX_GIB) errors.volumeSizeGiB = `EBS volumes hold at most ${VOLUME_MAX_GIB} GiB: enter a smaller size.`;
  else options.volumeSizeGiB = volume;

  if (form.encrypted) {
    options.encrypted = true;
    const arn = form.kmsKeyArn.trim();
    if (arn && !KMS_ARN.test(arn)) {
      errors.kmsKeyArn = 'That is not a KMS key ARN (arn:aws:kms:region:account:key/id): correct it, or leave it empty for the default EBS key.';
    } else if (arn) options.kmsKeyArn = arn;
  }

  const timeout = wholeNumber(form.timeoutMinutes);
  if (timeout === null || timeout < TIMEOUT_MIN || timeout > TIMEOUT_MAX) {
    errors.timeoutMinutes = `Enter a timeout between ${TIMEOUT_MIN} and ${TIMEOUT_MAX} minutes (${DEFAULT_TIMEOUT_MINUTES} = one day).`;
  } else options.timeoutMinutes = timeout;

  const concurrency = wholeNumber(form.concurrency);
  if (form.concurrency === null || String(form.concurrency).trim() === '') {
    // No bound of the person's: the window finds the link under the memory and transport bound.
  } else if (concurrency === null || concurrency < 1 || concurrency > CONCURRENCY_MAX) {
    errors.concurrency = `Enter between 1 and ${CONCURRENCY_MAX} blocks in flight, or leave it empty to let the pacing find the link.`;
  } else options.concurrency = concurrency;

  const parent = (form.parentSnapshotId ?? '').trim();
  if (parent && !/^snap-[0-9a-f]{8,60}$/.test(parent)) errors.parentSnapshotId = `"${parent}" is not a snapshot id: enter one like snap-0123456789abcdef0, or leave it empty.`;
  else if (parent && form.encrypted) errors.parentSnapshotId = 'A new version inherits its parent’s encryption: untick "Encrypt the snapshot".';
  else if (parent) {
    options.parentSnapshotId = parent;
    options.parentCompare = form.parentCompare ?? 'read';
  }

  if (form.skipZeroBlocks && canChooseSkip(form)) options.zeroBlocks = 'skip';

  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, options };
}
