// The disk inside a picked file for `blockport upload`: read in place, streamed out of its decompressor (raw, no
// temporary file), or unpacked to a temporary file first (formats read at random); the plan is said before the work.
import { tmpdir } from 'node:os';
import { chainLabel, routeDisk, packingOf, type Packing } from '../src/images/disk-route.ts';
import { subSource } from '../src/images/byte-source.ts';
import { unwrapContainers } from '../src/images/containers.ts';
import { openImage } from '../src/images/open-image.ts';
import { openSteps, streamedFormat, streamedHeadImage, streamedImage } from '../src/images/streamed-raw.ts';
import type { ByteSource, DiskImage } from '../src/images/types.ts';
import { tempSpool } from './temp-spool.ts';

/** The disk found in the file, ready to open as many times as needed. */
export interface PackedDisk {
  /** What the job records (undefined: the file is the disk). */
  packing: Packing | undefined;
  /** Opens the disk for the upload. */
  open(): Promise<DiskImage>;
  /** Opens the disk for boot detection (a streamed disk: its first 64 MiB). */
  openForBoot(): Promise<DiskImage>;
  /** Frees the temporary files and streams. */
  dispose(): Promise<void>;
}

export interface PackedDiskOptions {
  /** The image's path, for the sentences. */
  name: string;
  /** The packing recorded by the upload being resumed (the file's fingerprint matched): no need to route again. */
  resumed?: Packing;
  /** Lines for stderr (plan, notices); progress lines over one terminal line. */
  say?: (line: string) => void;
  progress?: (line: string) => void;
}

/** Finds the disk in `source` and says how it will be read. */
export async function packedDisk(source: ByteSource, opts: PackedDiskOptions): Promise<PackedDisk> {
  const say = opts.say ?? (() => {});
  const again = opts.resumed ? ', then the blocks already sent are skipped' : '';
  const streams: { close(): Promise<void> }[] = [];
  const spool = tempSpool();
  const dispose = async () => {
    for (const s of streams.splice(0)) await s.close();
    await spool.dispose();
  };
  let packing: Packing | undefined = opts.resumed;
  if (packing?.path !== 'streamed') {
    const route = await routeDisk(source, { progress: (f) => opts.progress?.(`reading ${opts.name} through: ${Math.floor(f * 100)} %`) });
    for (const n of route.path === 'direct' ? [] : route.notices) say(`notice: ${n}`);
    packing = packingOf(route);
    if (route.path === 'streamed' && route.measured) say(`blockport upload: ${opts.name} declares no unpacked size; it was measured by decompressing it once (${route.size} bytes).`);
  }
  if (!packing) return { packing, open: () => openImage(source), openForBoot: () => openImage(source), dispose };
  const chain = chainLabel(packing.container);
  if (packing.path === 'in-place') {
    say(`blockport upload: the disk in ${opts.name} (${chain}) is read in place.`);
    const disk = subSource(source, packing.offset, packing.length);
    return { packing, open: () => openImage(disk), openForBoot: () => openImage(disk), dispose };
  }
  if (packing.path === 'streamed') {
    const { steps, size } = packing;
    const what = streamedFormat(steps).format === 'vmdk' ? 'the streamOptimized VMDK inside is streamed out of the decompressor grain by grain' : 'the raw disk inside is streamed out of the decompressor';
    say(
      `blockport upload: ${opts.name} is ${chain}; ${what} as it is read (nothing is unpacked to disk)${opts.resumed ? ', decompressed again from the start (or from the xz block or zstd frame where it stopped, when the file has an index or a seek table), and the blocks already sent are skipped' : ''}.`,
    );
    const track = <T extends { close(): Promise<void> }>(image: T): T => (streams.push(image), image);
    return {
      packing,
      open: async () => track(streamedImage(source, steps, size, `${chain} file`)),
      openForBoot: async () => track(streamedHeadImage(() => openSteps(source, steps), size)),
      dispose,
    };
  }
  say(`blockport upload: ${opts.name} is ${chain}; its disk is unpacked to a temporary file in ${process.env.BLOCKPORT_TMPDIR ?? tmpdir()} before any block is sent${again}.`);
  const unwrapped = await unwrapContainers(source, { spool, progress: (what, n) => opts.progress?.(`unpacking ${what}: ${(n / 1048576).toFixed(0)} MiB`) });
  say(`blockport upload: unpacked ${chain} to a temporary file.`);
  return { packing, open: () => openImage(unwrapped.source), openForBoot: () => openImage(unwrapped.source), dispose };
}
