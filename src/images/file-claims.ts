import { corrupt } from './byte-source.ts';
import type { ImageFormat } from './types.ts';

// One page of bits covers 2^19 units; pages exist only where something was claimed, so memory follows the tables.
const PAGE_BITS = 19;
const PAGE_UNITS = 2 ** PAGE_BITS;

/**
 * The parts of an image file its tables have handed out (metadata, tables, data), in units of a fixed size. A valid
 * image never hands out one unit twice; a hostile one does, to make a small file claim terabytes of data.
 */
export class FileClaims {
  private readonly pages = new Map<number, Uint8Array>();

  constructor(
    private readonly format: ImageFormat,
    /** Bytes per unit: the cluster, sector or MiB the format allocates in. */
    private readonly unit: number,
    /** Where unit 0 starts in the file (a data area that is not aligned to the unit). */
    private readonly base = 0,
  ) {}

  /** Claims the units covering [offset, offset+length) for `what`; refuses the file if any was already claimed. */
  claim(offset: number, length: number, what: string): void {
    const first = Math.floor((offset - this.base) / this.unit);
    const end = Math.ceil((offset - this.base + Math.max(1, length)) / this.unit);
    for (let u = first; u < end; u++) {
      const page = this.page(u);
      const bit = u % PAGE_UNITS;
      const mask = 1 << (bit & 7);
      if (page[bit >>> 3]! & mask) throw shared(this.format, what, offset);
      page[bit >>> 3]! |= mask;
    }
  }

  /** True when the unit holding byte `offset` was claimed. */
  has(offset: number): boolean {
    const u = Math.floor((offset - this.base) / this.unit);
    const page = this.pages.get(Math.floor(u / PAGE_UNITS));
    const bit = u % PAGE_UNITS;
    return page !== undefined && (page[bit >>> 3]! & (1 << (bit & 7))) !== 0;
  }

  /** Marks the unit holding byte `offset` without refusing a second mark (units several entries may share). */
  mark(offset: number): void {
    const u = Math.floor((offset - this.base) / this.unit);
    const bit = u % PAGE_UNITS;
    this.page(u)[bit >>> 3]! |= 1 << (bit & 7);
  }

  private page(u: number): Uint8Array {
    const key = Math.floor(u / PAGE_UNITS);
    let page = this.pages.get(key);
    if (!page) {
      page = new Uint8Array(PAGE_UNITS / 8);
      this.pages.set(key, page);
    }
    return page;
  }
}

/** The refusal of a table that hands out one place of the file twice. */
export function shared(format: ImageFormat, what: string, offset: number): Error {
  return corrupt(
    format,
    `its tables use the bytes at offset ${offset} twice (${what} lies where another table entry or the image's own metadata already is), which no valid image does and which would make this small file claim far more data than it holds`,
  );
}
