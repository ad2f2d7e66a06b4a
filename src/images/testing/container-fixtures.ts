// Node-only: disk images packed the way they are downloaded, made at test time with Debian's xz, gzip, zstd, bzip2,
// tar and zip. Imported by tests and benches only.
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cached, fixture, sourceRaw } from './test-fixtures.ts';

export { packStep, type PackStep } from '../../../fixtures/packing.ts';
import { packStep, type PackStep } from '../../../fixtures/packing.ts';

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
