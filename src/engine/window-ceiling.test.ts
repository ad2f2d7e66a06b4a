import { describe, expect, it } from 'vitest';
import { ceilingNote, windowCeiling } from './window-ceiling.ts';

describe('windowCeiling', () => {
  it('bounds Node by 256 MiB of blocks and a tab by 64 MiB, and keeps the person’s number as the bound', () => {
    expect(windowCeiling({ browser: false })).toEqual({ ceiling: 512, reason: 'memory' });
    expect(windowCeiling({ browser: true, connection: { kind: 'emulator' } })).toEqual({ ceiling: 128, reason: 'memory' });
    expect(windowCeiling({ browser: true, requested: 40, connection: { kind: 'emulator' } })).toEqual({ ceiling: 40, reason: 'person' });
  });

  it('holds a tab to HTTP/1.1’s six connections on a plain-http endpoint, and says so when it binds', () => {
    const h1 = windowCeiling({ browser: true, connection: { kind: 'endpoint', endpoint: 'http://127.0.0.1:4566', region: 'us-east-1' } });
    expect(h1).toEqual({ ceiling: 12, reason: 'http1' });
    expect(windowCeiling({ browser: true, connection: { kind: 'endpoint', endpoint: 'https://127.0.0.1:4566', region: 'us-east-1' } }).reason).toBe('memory');
    expect(ceilingNote(h1, 12)).toContain('HTTP/1.1');
    expect(ceilingNote(h1, 8)).toBeUndefined();
  });
});
