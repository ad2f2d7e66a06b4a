import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './inspect.ts';
import { bootFixture, nitroFixture } from '../../src/images/testing/boot-fixtures.ts';
import { FORMAT_FIXTURES, cached, fixture, fixtureOracle, manifestOfRaw, qemu, sourceRaw } from '../../src/images/testing/test-fixtures.ts';
import { PACKED_FIXTURES, packedFixture } from '../../src/images/testing/container-fixtures.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs the verb in-process, capturing what it prints. */
async function inspect(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
  const error = vi.spyOn(console, 'error').mockImplementation((s: string) => void err.push(s));
  try {
    const code = await run(args);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('blockport inspect --json', () => {
  // 16 MiB sources keep the suite quick; formats.test.ts checks the 64 MiB ones through the same manifest builder.
  const src = sourceRaw(16);
  it.each(FORMAT_FIXTURES.map((f) => [f.name, f] as const))('%s: the manifest equals the one qemu-img’s raw output implies', async (name, spec) => {
    const r = await inspect([fixture(name, src), '--json']);
    expect(r.code).toBe(0);
    const { boot, nitro: _nitro, ...manifest } = JSON.parse(r.out);
    expect(manifest).toEqual(manifestOfRaw(readFileSync(fixtureOracle(name, src)), spec.format));
    expect(boot).toMatchObject({ partitionTable: 'none', architecture: null, bootMode: null });
  });
});

describe('blockport inspect', () => {
  it('shows format, sizes and block counts in words', async () => {
    const path = fixture('zero-flag.qcow2', sourceRaw(16));
    const want = manifestOfRaw(readFileSync(fixtureOracle('zero-flag.qcow2', sourceRaw(16))), 'qcow2');
    const r = await inspect([path]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/format:\s+qcow2 \(v3\)/);
    expect(r.out).toMatch(/virtual size:\s+16 MiB \(16777216 bytes\)/);
    expect(r.out).toMatch(/volume size:\s+1 GiB/);
    expect(r.out).toMatch(/blocks:\s+32 of 512 KiB/);
    expect(r.out).toMatch(new RegExp(`non-zero:\\s+${want.changedBlocksCount} blocks`));
    expect(r.out).toMatch(/to send:\s+32 blocks \(16 MiB \(16777216 bytes\)\), zero blocks included/);
    const allocated = Number(/allocated:\s+(\d+) blocks/.exec(r.out)![1]);
    expect(allocated).toBeGreaterThanOrEqual(want.changedBlocksCount);
    expect(allocated).toBeLessThan(32);
  });

  it('prints notices on stderr, keeping --json output parseable', async () => {
    const r = await inspect([fixture('snapshot.qcow2', sourceRaw(16)), '--json']);
    expect(r.code).toBe(0);
    expect(() => JSON.parse(r.out)).not.toThrow();
    expect(r.err).toMatch(/notice: This qcow2 image holds 1 internal snapshot; only the current state/);
  });

  it('refuses a child disk with exit 1 and the sentence', async () => {
    const path = cached('refuse-cli-child.vmdk', (p) => {
      qemu('qemu-img', ['create', '-f', 'vmdk', `${p}.base.vmdk`, '16M']);
      qemu('qemu-img', ['create', '-f', 'vmdk', '-b', `${p}.base.vmdk`, '-F', 'vmdk', p]);
    });
    const r = await inspect([path, '--json']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^blockport inspect: This VMDK is a child \(delta\) disk/);
  });

  it('explains a missing file and a bad command line', async () => {
    const missing = await inspect(['/nonexistent/disk.qcow2']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot open \/nonexistent\/disk\.qcow2 \(ENOENT\); check the path/);
    expect((await inspect([])).code).toBe(2);
    expect((await inspect(['a', 'b'])).code).toBe(2);
    const bad = await inspect(['--bogus', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown option --bogus/);
  });

  it('runs as `blockport inspect` from the command line', () => {
    const p = spawnSync(process.execPath, [join(root, 'cli', 'blockport.mjs'), 'inspect', fixture('stream.vmdk', sourceRaw(16)), '--json'], { encoding: 'utf8', cwd: root });
    expect(p.status).toBe(0);
    const { boot, nitro: _nitro, ...manifest } = JSON.parse(p.stdout);
    expect(manifest).toEqual(manifestOfRaw(readFileSync(fixtureOracle('stream.vmdk', sourceRaw(16))), 'vmdk'));
    expect(boot.partitionTable).toBe('none');
  });
});

describe('blockport inspect --json boot', () => {
  it('reports how a qcow2 disk boots, read through the format reader', async () => {
    const raw = bootFixture('gpt-x64-bios');
    const q = `${raw}.inspect.qcow2`;
    spawnSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, q]);
    const r = await inspect([q, '--json']);
    expect(r.code).toBe(0);
    const { boot } = JSON.parse(r.out);
    expect(boot).toMatchObject({ partitionTable: 'gpt', architecture: 'x86_64', bootMode: 'uefi-preferred' });
    expect(boot.evidence.join(' ')).toMatch(/BIOS boot partition/);
  });

  it('reports the Nitro findings of an ext4 root', async () => {
    const r = await inspect([nitroFixture('unready'), '--json']);
    expect(r.code).toBe(0);
    const { nitro } = JSON.parse(r.out) as { nitro: { check: string; level: string }[] };
    expect(nitro.filter((f) => f.level === 'warning').map((f) => f.check).sort()).toEqual(['cloud-init', 'ena', 'fstab', 'nvme']);
    const text = await inspect([nitroFixture('unready')]);
    expect(text.out).toMatch(/nitro: +Root file system: ext on the disk/);
    expect(text.out).toMatch(/warning: \/etc\/fstab mounts \/dev\/xvda1/);
  });
});

describe('blockport inspect --json on packed disks', () => {
  const cases = PACKED_FIXTURES.filter((p) => ['plain.raw.xz', 'v3.qcow2.gz', 'stream.vmdk.zip-deflate', 'plain.raw.tar-gnu.gz', 'v3.qcow2.zip-stored.bz2'].includes(p.name));
  it.each(cases.map((p) => [p.name, p] as const))('%s: the unpacked image’s manifest, with the container chain', async (_name, p) => {
    const src = sourceRaw(16);
    const spec = FORMAT_FIXTURES.find((f) => f.name === p.inner)!;
    const r = await inspect([packedFixture(p), '--json']);
    expect(r.code, r.err).toBe(0);
    const { boot, nitro: _nitro, ...manifest } = JSON.parse(r.out);
    expect(manifest).toEqual({ ...manifestOfRaw(readFileSync(fixtureOracle(p.inner, src)), spec.format), container: p.container });
    expect(boot.partitionTable).toBe('none');
  });

  it('says which containers it peeled off', async () => {
    const r = await inspect([packedFixture(cases.find((p) => p.name === 'plain.raw.tar-gnu.gz')!)]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/packed in:\s+gzip in tar/);
    expect(r.out).toMatch(/format:\s+raw/);
  });

  it('refuses a damaged container with its sentence', async () => {
    const path = cached('inspect-cut.raw.xz', (out) => {
      const b = readFileSync(packedFixture(PACKED_FIXTURES.find((p) => p.name === 'plain.raw.xz')!));
      writeFileSync(out, b.subarray(0, b.length >> 1));
    });
    const r = await inspect([path, '--json']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/This xz file is truncated .*pick the complete file/);
  });
});
