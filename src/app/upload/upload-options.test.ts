import { describe, expect, it } from 'vitest';
import { defaultOptionsForm, parseOptions, parseTags } from './upload-options.ts';

describe('parseTags', () => {
  it('reads key=value lines, trimming and skipping blanks', () => {
    expect(parseTags(' Name = web-01 \n\nteam=infra=core\n')).toEqual({ tags: { Name: 'web-01', 'team': 'infra=core' } });
  });
  it('names the line that is wrong', () => {
    expect(parseTags('a=1\nbroken')).toEqual({ error: 'Line 2 ("broken") has no "=": write one tag per line as key=value.' });
    expect('error' in parseTags('=x')).toBe(true);
    expect(parseTags('a=1\na=2')).toMatchObject({ error: expect.stringContaining('repeats the key "a"') });
    expect(parseTags('aws:name=x')).toMatchObject({ error: expect.stringContaining('reserved prefix') });
  });
  it('refuses a 51st tag', () => {
    const text = Array.from({ length: 51 }, (_, i) => `k${i}=v`).join('\n');
    expect(parseTags(text)).toMatchObject({ error: expect.stringContaining('at most 50 tags') });
  });
});

describe('parseOptions', () => {
  it('turns the default form into engine options with a night-proof timeout', () => {
    const r = parseOptions(defaultOptionsForm(3), 3);
    expect(r).toEqual({ ok: true, options: { volumeSizeGiB: 3, timeoutMinutes: 1440 } });
  });
  it('skips empty blocks only when ticked, and never for an encrypted snapshot or a new version', () => {
    const ticked = { ...defaultOptionsForm(1), skipZeroBlocks: true };
    expect(defaultOptionsForm(1).skipZeroBlocks).toBe(false);
    expect(parseOptions(ticked, 1)).toMatchObject({ ok: true, options: { zeroBlocks: 'skip' } });
    const enc = parseOptions({ ...ticked, encrypted: true }, 1);
    expect(enc.ok && enc.options.zeroBlocks).toBe(undefined);
    const child = parseOptions({ ...ticked, parentSnapshotId: 'snap-0123456789abcdef0' }, 1);
    expect(child.ok && child.options.zeroBlocks).toBe(undefined);
  });
  it('refuses a volume smaller than the image, and out-of-range timeout and concurrency', () => {
    const form = { ...defaultOptionsForm(3), volumeSizeGiB: '2', timeoutMinutes: '5', concurrency: '0' };
    const r = parseOptions(form, 3);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.volumeSizeGiB).toBe('The image needs at least 3 GiB: enter 3 or more.');
    expect(r.errors.timeoutMinutes).toContain('between 10 and 4320');
    expect(r.errors.concurrency).toContain('between 1 and 128');
    expect(parseOptions({ ...defaultOptionsForm(1), timeoutMinutes: '4321' }, 1).ok).toBe(false);
    expect(parseOptions({ ...defaultOptionsForm(1), volumeSizeGiB: '1.5' }, 1).ok).toBe(false);
    // What Svelte binds for type=number: numbers, and null for an empty field.
    expect(parseOptions({ ...defaultOptionsForm(1), volumeSizeGiB: 4, timeoutMinutes: 60, concurrency: 2 }, 1)).toMatchObject({ ok: true, options: { volumeSizeGiB: 4, timeoutMinutes: 60, concurrency: 2 } });
    expect(parseOptions({ ...defaultOptionsForm(1), timeoutMinutes: null }, 1).ok).toBe(false);
    expect(parseOptions({ ...defaultOptionsForm(1), volumeSizeGiB: 1.5 }, 1).ok).toBe(false);
  });
  it('checks the KMS key only when encrypting', () => {
    const bad = { ...defaultOptionsForm(1), encrypted: true, kmsKeyArn: 'alias/mine' };
    expect(parseOptions(bad, 1)).toMatchObject({ ok: false, errors: { kmsKeyArn: expect.stringContaining('not a KMS key ARN') } });
    expect(parseOptions({ ...bad, encrypted: false }, 1).ok).toBe(true);
    const arn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(parseOptions({ ...bad, kmsKeyArn: arn }, 1)).toMatchObject({ ok: true, options: { encrypted: true, kmsKeyArn: arn } });
  });
  it('keeps description and tags', () => {
    const r = parseOptions({ ...defaultOptionsForm(1), description: ' nightly ', tags: 'Name=x' }, 1);
    expect(r).toMatchObject({ ok: true, options: { description: 'nightly', tags: { Name: 'x' } } });
    expect(parseOptions({ ...defaultOptionsForm(1), description: 'x'.repeat(256) }, 1).ok).toBe(false);
  });
});
