// Types for the two pure-JavaScript parts of unbzip2-stream that Blockport uses (its Node stream wrapper is not used).
declare module 'unbzip2-stream/lib/bit_iterator.js' {
  /** Reads n bits (null: skip to the next byte boundary); counts the bytes it has started. */
  export interface BitReader {
    (n: number | null): number;
    readonly bytesRead: number;
  }
  export default function bitIterator(nextBuffer: () => Uint8Array): BitReader;
}
declare module 'unbzip2-stream/lib/bzip2.js' {
  import type { BitReader } from 'unbzip2-stream/lib/bit_iterator.js';
  const bzip2: {
    /** Reads a stream header; returns the block size in units of 100 kB (1–9). */
    header(bits: BitReader): number;
    /** Decodes one block into write(); returns the running CRC, or null at the end of the stream. */
    decompress(bits: BitReader, write: (byte: number) => void, buf: Int32Array, bufsize: number, streamCRC: number | null): number | null;
  };
  export default bzip2;
}
