import { mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module of the launcher, without types
import { freshBundle } from './bundle-check.mjs';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A root with two sources and a bundle built at `builtAt` (seconds) listing them. */
function tree(builtAt: number, sourcesAt: number): string {
  const root = mkdtempSync(join(tmpdir(), 'blockport-bundle-'));
  dirs.push(root);
  mkdirSync(join(root, 'cli'));
  mkdirSync(join(root, '.cli-build'));
  for (const f of ['cli/main.ts', 'package-lock.json']) {
    writeFileSync(join(root, f), 'x');
    utimesSync(join(root, f), sourcesAt, sourcesAt);
  }
  writeFileSync(join(root, '.cli-build', 'inputs.json'), JSON.stringify(['cli/main.ts', 'package-lock.json']));
  writeFileSync(join(root, '.cli-build', 'blockport.mjs'), '');
  utimesSync(join(root, '.cli-build', 'blockport.mjs'), builtAt, builtAt);
  return root;
}

describe('the command bundle check', () => {
  it('runs the bundle only when no source it lists is newer, and never when asked for the sources', () => {
    const fresh = tree(2000, 1000);
    expect(freshBundle(fresh, {})).toBe(join(fresh, '.cli-build', 'blockport.mjs'));
    expect(freshBundle(fresh, { BLOCKPORT_CLI_SOURCES: '1' })).toBeNull();
    // One source edited after the build: the sources run, not stale code.
    utimesSync(join(fresh, 'cli', 'main.ts'), 3000, 3000);
    expect(freshBundle(fresh, {})).toBeNull();
  });

  it('runs the sources when the list, the bundle or a listed source is missing', () => {
    const a = tree(2000, 1000);
    rmSync(join(a, '.cli-build', 'inputs.json'));
    expect(freshBundle(a, {})).toBeNull();
    const b = tree(2000, 1000);
    rmSync(join(b, '.cli-build', 'blockport.mjs'));
    expect(freshBundle(b, {})).toBeNull();
    const c = tree(2000, 1000);
    rmSync(join(c, 'package-lock.json'));
    expect(freshBundle(c, {})).toBeNull();
  });
});
