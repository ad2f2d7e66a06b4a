import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatRelative, formatSpeed } from './format.ts';

describe('format', () => {
  it('scales bytes to binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(256 * 1024 * 1024)).toBe('256 MiB');
    expect(formatBytes(64 * 1024 ** 3)).toBe('64.0 GiB');
    expect(formatBytes(-1)).toBe('—');
  });
  it('shows no speed rather than zero or infinity', () => {
    expect(formatSpeed(0)).toBe('—');
    expect(formatSpeed(Infinity)).toBe('—');
    expect(formatSpeed(30 * 1024 * 1024)).toBe('30.0 MiB/s');
  });
  it('writes durations at the right grain', () => {
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(185_000)).toBe('3 min 05 s');
    expect(formatDuration(3_720_000)).toBe('1 h 02 min');
  });
  it('groups thousands and says past or future', () => {
    expect(formatCount(131072)).toBe('131,072');
    expect(formatRelative(10_000 + 60_000, 10_000)).toBe('in 1 min 00 s');
    expect(formatRelative(10_000, 70_000)).toBe('1 min 00 s ago');
  });
});
