import type { ByteSource, ImageFormat } from './types.ts';
import { readExact } from './byte-source.ts';

/** Keeps recently read tables (L2, GT, BAT pages) so a read of many blocks does not re-read them; bounded by count. */
export class TableCache {
  private readonly pages = new Map<number, Promise<DataView>>();

  constructor(
    private readonly source: ByteSource,
    private readonly format: ImageFormat,
    private readonly what: string,
    private readonly maxPages = 64,
  ) {}

  /** The bytes [offset, offset+length) as a DataView, cached by offset. */
  get(offset: number, length: number): Promise<DataView> {
    const hit = this.pages.get(offset);
    if (hit) {
      // Refresh LRU position.
      this.pages.delete(offset);
      this.pages.set(offset, hit);
      return hit;
    }
    const p = readExact(this.source, offset, length, this.format, this.what).then(
      (b) => new DataView(b.buffer, b.byteOffset, b.byteLength),
    );
    p.catch(() => this.pages.delete(offset));
    this.pages.set(offset, p);
    if (this.pages.size > this.maxPages) {
      const oldest = this.pages.keys().next().value as number;
      this.pages.delete(oldest);
    }
    return p;
  }
}
