// CRC-32 (IEEE 802.3, as gzip and zip use it), eight bytes at a time.
const T = new Int32Array(256 * 8);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) for (let t = 1; t < 8; t++) T[t * 256 + n] = (T[(t - 1) * 256 + n]! >>> 8) ^ T[T[(t - 1) * 256 + n]! & 255]!;

/** Continues a CRC-32 over more bytes (start with 0); returns it unsigned. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c =
      T[7 * 256 + (c & 255)]! ^ T[6 * 256 + ((c >>> 8) & 255)]! ^ T[5 * 256 + ((c >>> 16) & 255)]! ^ T[4 * 256 + (c >>> 24)]! ^
      T[3 * 256 + bytes[i + 4]!]! ^ T[2 * 256 + bytes[i + 5]!]! ^ T[256 + bytes[i + 6]!]! ^ T[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = T[(c ^ bytes[i]!) & 255]! ^ (c >>> 8);
  return ~c >>> 0;
}
