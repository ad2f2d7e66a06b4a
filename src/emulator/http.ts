// Transport-neutral HTTP shapes: the wire layer speaks these, adapters (SDK handler, Node server) convert.

/** An HTTP request as the emulator sees it, independent of any transport. */
export interface EmuRequest {
  method: string;
  /** Path without the query string, percent-encoded as sent (e.g. `/snapshots/snap-0a/blocks/3`). */
  path: string;
  /** Decoded query parameters (last value wins when repeated). */
  query: Record<string, string>;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** An HTTP response as the emulator produces it. */
export interface EmuResponse {
  status: number;
  /** Header names as they go on the wire (case preserved, e.g. `x-amzn-RequestId`). */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** A function that answers emulator requests (what a transport adapter calls). */
export type EmuTarget = (req: EmuRequest) => Promise<EmuResponse>;

const utf8 = new TextEncoder();

/** UTF-8 bytes of a string. */
export function textBytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/** A JSON response with the given status and extra headers. */
export function jsonResponse(status: number, value: unknown, headers: Record<string, string> = {}): EmuResponse {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: textBytes(JSON.stringify(value)) };
}

/** A random request id in the shape AWS uses (UUID v4). */
export function newRequestId(): string {
  return crypto.randomUUID();
}
