// A Smithy HttpHandler that answers SDK requests from an emulator target instead of the network.
import { HttpResponse, type HttpRequest } from '@smithy/protocol-http';
import type { HttpHandler, HttpHandlerOptions } from '@smithy/protocol-http';
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { EmuRequest, EmuResponse, EmuTarget } from './http.ts';
import type { EbsModel } from './model.ts';
import { handleEbsRequest } from './ebs-wire.ts';
import { handleEc2Request } from './ec2-wire.ts';

/** Dummy credentials: the in-process emulator does not check signatures. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'AKIAEMULATOR00000000', secretAccessKey: 'emulator-secret-key' };

/** Reads a request body in any form the SDK sends: bytes, string, Blob, ReadableStream, Node Readable. */
export async function collectRequestBody(input: unknown, signal?: AbortSignalLike): Promise<Uint8Array> {
  let body = input;
  if (body === undefined || body === null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (typeof Blob !== 'undefined' && body instanceof Blob) {
    // Node's Blob.arrayBuffer() is several times slower than reading its stream; browsers are fast either way.
    if (!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node) return new Uint8Array(await body.arrayBuffer());
    body = body.stream();
  }
  const chunks: Uint8Array[] = [];
  if (typeof (body as ReadableStream).getReader === 'function') {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      if (signal?.aborted) {
        await reader.cancel().catch(() => undefined);
        throw abortError();
      }
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(toBytes(value));
    }
  } else if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    for await (const chunk of body as AsyncIterable<unknown>) {
      if (signal?.aborted) throw abortError();
      chunks.push(toBytes(chunk));
    }
  } else {
    throw new TypeError(`Unsupported request body type: ${Object.prototype.toString.call(body)}`);
  }
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return new TextEncoder().encode(chunk);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('Unsupported body chunk');
}

/** The subset of AbortSignal the SDK hands to handlers. */
interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener?: (type: 'abort', listener: () => void, opts?: { once?: boolean }) => void;
  removeEventListener?: (type: 'abort', listener: () => void) => void;
}

function abortError(): Error {
  const e = new Error('Request aborted');
  e.name = 'AbortError';
  return e;
}

/** An EmuRequest from a Smithy HttpRequest. */
export async function toEmuRequest(request: HttpRequest, signal?: AbortSignalLike): Promise<EmuRequest> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.query ?? {})) {
    if (v === null || v === undefined) query[k] = '';
    else query[k] = Array.isArray(v) ? (v.at(-1) ?? '') : v;
  }
  return { method: request.method, path: request.path, query, headers, body: await collectRequestBody(request.body, signal) };
}

/** A Smithy HttpResponse from an EmuResponse; the body is a ReadableStream, which SDK streaming outputs accept everywhere. */
export function toHttpResponse(res: EmuResponse): HttpResponse {
  const bytes = res.body;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (bytes.length) controller.enqueue(bytes);
      controller.close();
    },
  });
  return new HttpResponse({ statusCode: res.status, headers: { ...res.headers }, body });
}

/** A request handler for any SDK client, answering from `target` (e.g. the EBS or EC2 wire over a model). */
export function createEmulatorHandler(target: EmuTarget): HttpHandler {
  return {
    async handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }> {
      const signal = options?.abortSignal as AbortSignalLike | undefined;
      if (signal?.aborted) throw abortError();
      const work = (async () => toHttpResponse(await target(await toEmuRequest(request, signal))))();
      if (!signal?.addEventListener) return { response: await work };
      let onAbort: () => void = () => undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError());
        signal.addEventListener!('abort', onAbort, { once: true });
      });
      try {
        return { response: await Promise.race([work, aborted]) };
      } finally {
        signal.removeEventListener?.('abort', onAbort);
      }
    },
    updateHttpClientConfig(): void {},
    httpHandlerConfigs(): Record<string, never> {
      return {};
    },
  } as HttpHandler;
}

/**
 * PutSnapshotBlock's body is unsigned (the service accepts `UNSIGNED-PAYLOAD`, as the app's clients send it): without
 * the header the signer hashes every block once more, work an in-process emulator, which checks no signature, never uses.
 */
function unsignedBlockPayload(ebs: EBSClient): void {
  ebs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutSnapshotBlockCommand') (args.request as HttpRequest).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'emulatorUnsignedBlockPayload' },
  );
}

/** Client settings for `createEmulatorClients`. */
export interface EmulatorClientOptions {
  /** SDK attempts per call (default 1: tests see every error as the service sent it). */
  maxAttempts?: number;
  /** Default: the model's region. */
  region?: string;
}

/** SDK clients wired to a model: `ebs` speaks rest-json to the EBS wire, `ec2` the EC2 query protocol. */
export function createEmulatorClients(model: EbsModel, opts: EmulatorClientOptions = {}): { ebs: EBSClient; ec2: EC2Client } {
  const common = { region: opts.region ?? model.config.region, credentials: EMULATOR_CREDENTIALS, maxAttempts: opts.maxAttempts ?? 1 };
  const ebs = new EBSClient({ ...common, requestHandler: createEmulatorHandler((r) => handleEbsRequest(model, r)) });
  unsignedBlockPayload(ebs);
  const ec2 = new EC2Client({ ...common, requestHandler: createEmulatorHandler((r) => handleEc2Request(model, r)) });
  return { ebs, ec2 };
}
