import { ImageFormatError, type ByteSource } from './types.ts';
import { corrupt, readExact, subSource } from './byte-source.ts';

/** A regular file inside a tar archive. */
export interface TarEntry {
  name: string;
  offset: number;
  size: number;
}

/** Entries a tar archive may hold before it is refused. */
export const MAX_TAR_ENTRIES = 10000;

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
export function tarDamaged(detail: string, code = 'corrupt'): ImageFormatError {
  return new ImageFormatError(
    `This tar archive is ${code === 'truncated' ? 'truncated' : 'damaged'} (${detail}), so the disk inside cannot be read. Download or copy it again and pick the complete file.`,
    undefined,
    code,
  );
}

/** One tar header: its entry type, name (ustar prefix joined), and the size its field gives (NaN when unreadable). */
export function parseTarHeader(h: Uint8Array): { type: string; name: string; size: number } {
  const ustar = cstr(h, 257, 6) === 'ustar';
  return { type: String.fromCharCode(h[156]!), name: ustar && h[345] ? `${cstr(h, 345, 155)}/${cstr(h, 0, 100)}` : cstr(h, 0, 100), size: octal(h, 124, 12) };
}

/** True for the entry types that hold a regular file's data. */
export const isTarFile = (type: string): boolean => type === '0' || type === '\0' || type === '7';

/** What a GNU long-name ('L') or pax ('x') entry's body says of the next entry: its name and, for pax, its size. */
export function tarExtension(type: string, body: Uint8Array): { name?: string; size?: number } {
  const text = new TextDecoder().decode(body);
  if (type === 'L') return { name: text.replace(/\0.*$/s, '') };
  const m = /\d+ path=([^\n]*)\n/.exec(text);
  // pax gives sizes of 8 GiB and more as a record, the header's field then being zero or wrong.
  const z = /\d+ size=(\d+)\n/.exec(text);
  return { ...(m ? { name: m[1] } : {}), ...(z ? { size: Number(z[1]) } : {}) };
}

/** Lists the regular files of a tar archive (ustar, GNU long names and base-256 sizes, pax paths and sizes). */
export async function listTar(source: ByteSource, plain = false): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let paxSize: number | undefined;
  const bad = (detail: string): ImageFormatError => (plain ? tarDamaged(detail) : corrupt('ova', detail));
  for (let n = 0; off + 512 <= source.size; n++) {
    if (n > MAX_TAR_ENTRIES) throw bad(`it holds more than ${MAX_TAR_ENTRIES} entries`);
    const h = await readExact(source, off, 512, 'ova', 'archive entries').catch((err: unknown) => {
      throw plain ? tarDamaged('it ends inside an entry header', 'truncated') : err;
    });
    if (h.every((b) => b === 0)) break;
    if (!isTarHeader(h)) throw bad(`the archive entry at byte ${off} has a bad header checksum`);
    const header = parseTarHeader(h);
    const size = paxSize ?? header.size;
    paxSize = undefined;
    if (!Number.isSafeInteger(size) || off + 512 + size > source.size) {
      if (plain) throw tarDamaged(`it ends inside the file "${header.name}"`, 'truncated');
      throw new ImageFormatError(
        `This OVA ends inside the file "${header.name}": it is truncated. Download or export the appliance again and pick the complete file.`,
        'ova',
        'truncated',
      );
    }
    const { type } = header;
    const data = off + 512;
    if (type === 'L' || type === 'x') {
      const ext = tarExtension(type, await readExact(source, data, Math.min(size, 65536), 'ova', 'archive entries'));
      if (ext.name !== undefined) longName = ext.name;
      if (ext.size !== undefined) paxSize = ext.size;
    } else {
      const name = longName ?? header.name;
      longName = undefined;
      if (isTarFile(type)) out.push({ name, offset: data, size });
    }
    off = data + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** The sub-source of an entry. */
export function entrySource(source: ByteSource, e: TarEntry): ByteSource {
  return subSource(source, e.offset, e.size);
}
