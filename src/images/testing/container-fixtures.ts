// Node-only: disk images packed the way they are downloaded, made at test time with Debian's xz, gzip, zstd, bzip2,
// tar and zip. Imported by tests and benches only.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cached, fixture, sourceRaw } from './test-fixtures.ts';

/** One packing step, applied to the file made so far. */
export type PackStep = 'gz' | 'gz-members' | 'xz' | 'zst' | 'zst-frames' | 'bz2' | 'tar-ustar' | 'tar-gnu' | 'tar-pax' | 'zip-stored' | 'zip-deflate' | 'zip64';

/** A packed fixture: a format fixture (16 MiB source) wrapped in steps, innermost first. */
export interface PackedSpec {
  name: string;
  inner: string;
  steps: PackStep[];
  /** The chain inspect reports, outermost first. */
  container: string[];
}

const KIND: Record<PackStep, string> = {
  gz: 'gzip', 'gz-members': 'gzip', xz: 'xz', zst: 'zstd', 'zst-frames': 'zstd', bz2: 'bzip2',
  'tar-ustar': 'tar', 'tar-gnu': 'tar', 'tar-pax': 'tar', 'zip-stored': 'zip', 'zip-deflate': 'zip', zip64: 'zip',
};

const spec = (inner: string, ...steps: PackStep[]): PackedSpec => ({
  name: `${inner}.${steps.join('.')}`,
  inner,
  steps,
  container: [...steps].reverse().map((s) => KIND[s]),
});

/** Every container around raw, qcow2 and streamOptimized VMDK, and the nestings people download. */
export const PACKED_FIXTURES: PackedSpec[] = [
  ...(['gz', 'gz-members', 'xz', 'zst', 'zst-frames', 'bz2', 'tar-ustar', 'tar-gnu', 'tar-pax', 'zip-stored', 'zip-deflate', 'zip64'] as PackStep[]).map((s) => spec('plain.raw', s)),
  ...(['gz', 'xz', 'zst', 'bz2', 'tar-ustar', 'zip-deflate'] as PackStep[]).flatMap((s) => [spec('v3.qcow2', s), spec('stream.vmdk', s)]),
  spec('plain.raw', 'tar-gnu', 'gz'),
  spec('plain.raw', 'tar-pax', 'zst'),
  spec('v3.qcow2', 'zip-stored', 'bz2'),
  spec('plain.raw', 'xz', 'tar-ustar', 'gz'),
];

const run = (cmd: string, args: string[], opts: { input?: Buffer; cwd?: string } = {}): Buffer =>
  execFileSync(cmd, args, { ...opts, maxBuffer: 1 << 30, stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });

/** Applies one step to the file at `from`, writing `to`. */
export function packStep(step: PackStep, from: string, to: string, entryName = 'disk.img'): void {
  const data = (): Buffer => readFileSync(from);
  const halves = (): [Buffer, Buffer] => {
    const b = data();
    const mid = Math.floor(b.length / 2);
    return [b.subarray(0, mid), b.subarray(mid)];
  };
  switch (step) {
    case 'gz':
      return writeFileSync(to, run('gzip', ['-c', '-n', from]));
    case 'gz-members':
      return writeFileSync(to, Buffer.concat(halves().map((h) => run('gzip', ['-c', '-n'], { input: h }))));
    case 'xz':
      return writeFileSync(to, run('xz', ['-c', '-T1', '--block-size=4MiB', from]));
    case 'zst':
      return writeFileSync(to, run('zstd', ['-c', '-q', from]));
    case 'zst-frames':
      return writeFileSync(to, Buffer.concat(halves().map((h) => run('zstd', ['-c', '-q'], { input: h }))));
    case 'bz2':
      return writeFileSync(to, run('bzip2', ['-c', from]));
    case 'tar-ustar':
    case 'tar-gnu':
    case 'tar-pax':
    case 'zip-stored':
    case 'zip-deflate':
    case 'zip64': {
      const dir = `${to}.d`;
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      try {
        copyFileSync(from, join(dir, entryName));
        // A small file beside the disk, as downloads carry a licence or a checksum list.
        writeFileSync(join(dir, 'README.txt'), 'Packed by the Blockport tests.\n');
        if (step.startsWith('tar')) {
          run('tar', [`--format=${step.slice(4)}`, '-cf', to, '-C', dir, 'README.txt', entryName]);
        } else {
          const level = step === 'zip-stored' ? '-0' : '-6';
          // zip adds ".zip" to a name without it.
          run('zip', ['-q', '-X', level, ...(step === 'zip64' ? ['-fz'] : []), `${to}.zip`, 'README.txt', entryName], { cwd: dir });
          renameSync(`${to}.zip`, to);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return;
    }
  }
}

/** Path of a packed fixture (made once per recipe version). */
export function packedFixture(p: PackedSpec): string {
  return cached(`packed-${p.name}`, (out) => {
    let from = fixture(p.inner, sourceRaw(16));
    const work = `${out}.steps`;
    mkdirSync(work, { recursive: true });
    try {
      p.steps.forEach((step, i) => {
        const to = join(work, `${i}`);
        packStep(step, from, to, i === 0 ? `disk-${basename(p.inner)}` : `inner-${i}`);
        from = to;
      });
      copyFileSync(from, out);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/** Size in bytes of a file. */
export const sizeOf = (p: string): number => statSync(p).size;
