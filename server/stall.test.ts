import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { parseFlags } from './flags.ts';
import { validateRuntimePatch } from './config.ts';
import { drawStall } from './faults.ts';

describe('stall flags', () => {
  it('parses --stall-rate and --stall-after-bytes, and checks them at runtime too', () => {
    expect(parseFlags(['--stall-rate', '0.02', '--stall-after-bytes=65536']).config).toMatchObject({ stallRate: 0.02, stallAfterBytes: 65536 });
    expect(parseFlags([]).config).toMatchObject({ stallRate: 0, stallAfterBytes: 0 });
    expect(() => parseFlags(['--stall-rate', '1.5'])).toThrow(/--stall-rate needs a number between 0 and 1, got 1.5/);
    expect(validateRuntimePatch({ stallRate: 0.5, stallAfterBytes: 10 })).toEqual([]);
    expect(validateRuntimePatch({ stallRate: 2, stallAfterBytes: -1 })).toHaveLength(2);
    expect(drawStall({ stallRate: 0.02 }, () => 0.01)).toBe(true);
    expect(drawStall({ stallRate: 0.02 }, () => 0.03)).toBe(false);
    expect(drawStall({ stallRate: 0 }, () => 0)).toBe(false);
  });
});

describe('a stalled request over a real socket', () => {
  let emu: SpawnedEmulator;
  beforeAll(async () => {
    emu = await spawnEmulator(['--stall-rate', '1']);
  });
  afterAll(async () => {
    await emu?.stop();
  });

  const health = async () => ((await (await emu.admin('health')).json()) as { stalls: { total: number; open: number } }).stalls;

  const put = (port: string) => {
    const state = { answered: false };
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/snapshots/snap-0123456789abcdef0/blocks/0', headers: { 'content-length': 524288 } });
    req.on('response', () => (state.answered = true));
    req.on('error', () => undefined);
    req.write(Buffer.alloc(524288));
    return { req, state };
  };

  it('is accepted and never answered, and is held open until the client leaves', async () => {
    expect((await emu.admin('config', { stallAfterBytes: 0 })).ok).toBe(true);
    const { req, state } = put(new URL(emu.url).port);
    await new Promise((r) => setTimeout(r, 800));
    expect(state.answered).toBe(false);
    expect(await health()).toMatchObject({ total: 1, open: 1 });
    req.destroy();
    for (let i = 0; i < 100 && (await health()).open !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await health()).toMatchObject({ total: 1, open: 0 });
  });

  it('with --stall-after-bytes, stops reading the body midway and never answers', async () => {
    expect((await emu.admin('config', { stallAfterBytes: 1000 })).ok).toBe(true);
    const { req, state } = put(new URL(emu.url).port);
    await new Promise((r) => setTimeout(r, 800));
    expect(state.answered).toBe(false);
    expect((await health()).open).toBe(1);
    req.destroy();
  });
});
