import { fileSource } from '../node-source.ts';
import { openPackedImage } from '../../src/images/open-packed-image.ts';
import { tempSpool } from '../temp-spool.ts';
import { buildManifest } from '../../src/images/manifest.ts';
import { summarizeImage } from '../../src/images/summary.ts';
import { ImageFormatError } from '../../src/images/types.ts';
import { detectBoot } from '../../src/images/boot/detect-boot.ts';
import { checkNitro } from '../../src/images/boot/nitro-check.ts';

/** Help text for `blockport inspect`. */
export const usage = `Usage: blockport inspect <image> [--json]

Detects the image's format from its content and shows the format, virtual size,
EBS volume size, and how many 512 KiB blocks are allocated and non-zero.
An upload writes every block by default; with --zero-blocks skip, only the non-zero ones.

Formats: raw, qcow2 (v2/v3, deflate/zstd, extended L2), VMDK (monolithicSparse,
streamOptimized), VHD (fixed, dynamic), VHDX (fixed, dynamic), VDI (dynamic,
static), OVA (the first disk inside).
Also inside .gz, .xz, .zst, .bz2, .tar and .zip, nested up to three deep
(.tar.gz, .vmdk.zip, .qcow2.xz), recognised by content; a format that must be
read at random is first unpacked to a temporary file (BLOCKPORT_TMPDIR).

  --json   Print the upload manifest instead: {"format", "virtualSize", "blockSize",
           "volumeSizeGiB", "allBlocksCount", "changedBlocksCount", "aggregateChecksum", "blocks"} and
           "container" (e.g. ["tar","gzip"]) when the disk was packed:
           allBlocksCount is what an upload writes by default (every block, zero blocks included);
           the rest describes an upload with --zero-blocks skip (every non-zero block's base64 SHA-256);
           "boot": {"partitionTable", "architecture", "bootMode", "evidence"}
           (architecture and bootMode null when nothing on the disk decides them),
           and "nitro": [{"check", "level", "text"}] (ok, warning or not-checked: NVMe,
           ENA, /etc/fstab device names, cloud-init, read from an ext root file system).`;

function size(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} bytes` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]} (${bytes} bytes)`;
}

/** Runs `blockport inspect`: 0 on success, 1 when the image cannot be read, 2 for a bad command line. */
export async function run(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  const unknown = rest.filter((a) => a.startsWith('-'));
  if (unknown.length || rest.length !== 1) {
    console.error(
      unknown.length
        ? `blockport inspect: unknown option ${unknown[0]}.\n\n${usage}`
        : `blockport inspect: name exactly one image file.\n\n${usage}`,
    );
    return 2;
  }
  const path = rest[0]!;
  let src: Awaited<ReturnType<typeof fileSource>>;
  try {
    src = await fileSource(path);
  } catch (err) {
    console.error(`blockport inspect: cannot open ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path and that you may read the file.`);
    return 1;
  }
  const spool = tempSpool();
  try {
    const image = await openPackedImage(src, { spool });
    for (const n of image.notices) console.error(`notice: ${n}`);
    if (json) {
      const manifest = { ...(await buildManifest(image)), boot: await detectBoot(image), nitro: await checkNitro(image) };
      console.log(JSON.stringify(image.container.length ? { ...manifest, container: image.container } : manifest));
      return 0;
    }
    const s = await summarizeImage(image);
    const m = await buildManifest(image);
    const boot = await detectBoot(image);
    const lines = [
      `image:         ${path}`,
      ...(image.container.length ? [`packed in:     ${image.container.join(' in ')}`] : []),
      `format:        ${s.format}${s.subformat ? ` (${s.subformat})` : ''}`,
      `virtual size:  ${size(s.virtualSize)}`,
      `volume size:   ${s.volumeSizeGiB} GiB`,
      `blocks:        ${s.blockCount} of 512 KiB`,
      `allocated:     ${s.allocatedBlocks} blocks`,
      `non-zero:      ${m.changedBlocksCount} blocks (${size(m.changedBlocksCount * 524288)} to send with --zero-blocks skip)`,
      `to send:       ${m.allBlocksCount} blocks (${size(m.allBlocksCount * 524288)}), zero blocks included (the default)`,
      `boot:          ${boot.architecture ?? 'architecture undecided'}, ${boot.bootMode ?? 'boot mode undecided'} (${boot.partitionTable === 'none' ? 'no partition table' : boot.partitionTable.toUpperCase()})`,
      ...boot.evidence.map((e) => `               ${e}`),
      ...(await checkNitro(image)).map((f, i) => `${i ? '               ' : 'nitro:         '}${f.level === 'warning' ? 'warning: ' : f.level === 'not-checked' ? 'not checked: ' : ''}${f.text}`),
    ];
    console.log(lines.join('\n'));
    return 0;
  } catch (err) {
    if (err instanceof ImageFormatError) {
      console.error(`blockport inspect: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await spool.dispose();
    await src.close();
  }
}
