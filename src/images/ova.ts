import { ImageFormatError, type ByteSource } from './types.ts';
import { corrupt, readExact, subSource } from './byte-source.ts';

/** A regular file inside a tar archive. */
export interface TarEntry {
  name: string;
  offset: number;
  size: number;
}

const MAX_ENTRIES = 10000;

function octal(h: Uint8Array, at: number, len: number): number {
  if (h[at]! & 0x80) {
    // GNU base-256 for sizes of 8 GiB and more.
    let n = h[at]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + h[at + i]!;
    return n;
  }
  const s = new TextDecoder('latin1').decode(h.subarray(at, at + len)).replace(/\0.*$/s, '').trim();
  if (!/^[0-7]*$/.test(s)) return NaN;
  return s ? parseInt(s, 8) : 0;
}

function cstr(h: Uint8Array, at: number, len: number): string {
  const b = h.subarray(at, at + len);
  const z = b.indexOf(0);
  return new TextDecoder().decode(z < 0 ? b : b.subarray(0, z));
}

/** True when these 512 bytes are a tar header with a valid checksum. */
export function isTarHeader(h: Uint8Array): boolean {
  if (h.length < 512 || h[0] === 0) return false;
  const stored = octal(h, 148, 8);
  if (!Number.isFinite(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === stored;
}

/** The error for a plain tar archive (not an OVA) that contradicts itself. */
function tarDamaged(detail: string, code = 'corrupt'): ImageFormatError {
  return new ImageFormatError(
    `This tar archive is ${code === 'truncated' ? 'truncated' : 'damaged'} (${detail}), so the disk inside cannot be read. Download or copy it again and pick the complete file.`,
    undefined,
    code,
  );
}

/** Lists the regular files of a tar archive (ustar, GNU long names and base-256 sizes, pax paths and sizes). */
export async function listTar(source: ByteSource, plain = false): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let paxSize: number | undefined;
  const bad = (detail: string): ImageFormatError => (plain ? tarDamaged(detail) : corrupt('ova', detail));
  for (let n = 0; off + 512 <= source.size; n++) {
    if (n > MAX_ENTRIES) throw bad(`it holds more than ${MAX_ENTRIES} entries`);
    const h = await readExact(source, off, 512, 'ova', 'archive entries').catch((err: unknown) => {
      throw plain ? tarDamaged('it ends inside an entry header', 'truncated') : err;
    });
    if (h.every((b) => b === 0)) break;
    if (!isTarHeader(h)) throw bad(`the archive entry at byte ${off} has a bad header checksum`);
    const size = paxSize ?? octal(h, 124, 12);
    paxSize = undefined;
    if (!Number.isSafeInteger(size) || off + 512 + size > source.size) {
      if (plain) throw tarDamaged(`it ends inside the file "${cstr(h, 0, 100)}"`, 'truncated');
      throw new ImageFormatError(
        `This OVA ends inside the file "${cstr(h, 0, 100)}": it is truncated. Download or export the appliance again and pick the complete file.`,
        'ova',
        'truncated',
      );
    }
    const type = String.fromCharCode(h[156]!);
    const ustar = cstr(h, 257, 6) === 'ustar';
    let name = ustar && h[345] ? `${cstr(h, 345, 155)}/${cstr(h, 0, 100)}` : cstr(h, 0, 100);
    const data = off + 512;
    if (type === 'L' || type === 'x') {
      const body = new TextDecoder().decode(await readExact(source, data, Math.min(size, 65536), 'ova', 'archive entries'));
      if (type === 'L') longName = body.replace(/\0.*$/s, '');
      else {
        const m = /\d+ path=([^\n]*)\n/.exec(body);
        if (m) longName = m[1];
        // pax gives sizes of 8 GiB and more as a record, the header's field then being zero or wrong.
        const z = /\d+ size=(\d+)\n/.exec(body);
        if (z) paxSize = Number(z[1]);
      }
    } else {
      if (longName !== undefined) name = longName;
      longName = undefined;
      if (type === '0' || type === '\0' || type === '7') out.push({ name, offset: data, size });
    }
    off = data + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** The sub-source of an entry. */
export function entrySource(source: ByteSource, e: TarEntry): ByteSource {
  return subSource(source, e.offset, e.size);
}
