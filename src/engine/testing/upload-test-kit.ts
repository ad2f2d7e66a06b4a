// Test helpers shared by engine tests: a synthetic image source and an emulator with injected faults.
import { EBSClient, GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createEmulatorHandler, createMemoryEmulator, EMULATOR_CREDENTIALS, handleEbsRequest, handleEc2Request } from '../../emulator/index.ts';
import { textBytes } from '../../emulator/http.ts';
import type { EbsModel } from '../../emulator/model.ts';
import { BLOCK_SIZE, type ByteSource } from '../../images/types.ts';
import { tuneEbsClient } from '../../aws/clients.ts';

/** Region kinds of a synthetic image. */
export type RegionKind = 'random' | 'text' | 'zero';

/** Deterministic bytes: xorshift32 from a seed. */
export function fillRandom(buf: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 1;
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
}

/** An image in memory made of regions (sizes in blocks); a trailing partial block when tail > 0. */
export function syntheticImage(regions: [RegionKind, number][], tailBytes = 0): Uint8Array {
  const blocks = regions.reduce((n, [, c]) => n + c, 0);
  const out = new Uint8Array(blocks * BLOCK_SIZE + tailBytes);
  let at = 0;
  let seed = 7;
  const line = new TextEncoder().encode('The quick brown fox jumps over the lazy dog 0123456789\n');
  for (const [kind, count] of regions) {
    const region = out.subarray(at, at + count * BLOCK_SIZE);
    if (kind === 'random') fillRandom(region, seed++);
    else if (kind === 'text') for (let o = 0; o < region.length; o += line.length) region.set(line.subarray(0, Math.min(line.length, region.length - o)), o);
    at += count * BLOCK_SIZE;
  }
  if (tailBytes) fillRandom(out.subarray(at), 99);
  return out;
}

/** A ByteSource over bytes in memory. */
export function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (o, n) => bytes.slice(o, Math.min(bytes.length, o + n)) };
}

/** Fault settings for the wrapped emulator: fractions of PutSnapshotBlock answered with 500 / throttling. */
export interface Faults {
  errorRate?: number;
  throttleRate?: number;
  /** Fail this many PutSnapshotBlock calls with a ValidationException (never retried). */
  validationFailures?: number;
  /** Delay every PutSnapshotBlock by this many ms (so a test can act while blocks are still to go). */
  latencyMs?: number;
}

function errorResponse(status: number, type: string, body: object) {
  return { status, headers: { 'content-type': 'application/json', 'x-amzn-errortype': type, 'x-amzn-requestid': 'test' }, body: textBytes(JSON.stringify(body)) };
}

/** A memory emulator whose EBS client goes through a fault-injecting handler; counts puts. */
export function faultyEmulator(faults: Faults = {}, modelOpts: { completionDelayMs?: number } = {}) {
  const emu = createMemoryEmulator({ completionDelayMs: modelOpts.completionDelayMs ?? 20 });
  const model: EbsModel = emu.model;
  const counts = { puts: 0, injected: 0, validation: faults.validationFailures ?? 0 };
  const handler = createEmulatorHandler(async (req) => {
    if (req.method === 'PUT' && /\/blocks\/\d+$/.test(req.path)) {
      counts.puts++;
      if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
      if (counts.validation > 0) {
        counts.validation--;
        return errorResponse(400, 'ValidationException:http://internal.amazon.com/coral/com.amazon.coral.validate/', { message: 'Block data length 1 is not valid, expected 524288', Reason: 'INVALID_BLOCK' });
      }
      const r = Math.random();
      if (r < (faults.errorRate ?? 0)) {
        counts.injected++;
        return errorResponse(500, 'InternalServerException:http://internal.amazon.com/coral/com.amazonaws.ebs/', { Message: 'injected' });
      }
      if (r < (faults.errorRate ?? 0) + (faults.throttleRate ?? 0)) {
        counts.injected++;
        return errorResponse(400, 'RequestThrottledException:http://internal.amazon.com/coral/com.amazonaws.ebs/', { Message: 'injected', Reason: 'ACCOUNT_THROTTLED' });
      }
    }
    return handleEbsRequest(model, req);
  });
  const common = { region: 'us-east-1', credentials: EMULATOR_CREDENTIALS, maxAttempts: 1 };
  const ebs = tuneEbsClient(new EBSClient({ ...common, requestHandler: handler }));
  const ec2 = new EC2Client({ ...common, requestHandler: createEmulatorHandler((r) => handleEc2Request(model, r)) });
  return { model, ebs, ec2, counts, reader: emu.ebs };
}

/** Reads a completed snapshot back into an image-sized buffer (holes as zeros). */
export async function readSnapshot(ebs: EBSClient, snapshotId: string, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE);
  let NextToken: string | undefined;
  do {
    const page = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, NextToken, MaxResults: 1000 }));
    for (const b of page.Blocks ?? []) {
      const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: b.BlockIndex!, BlockToken: b.BlockToken! }));
      out.set(await got.BlockData!.transformToByteArray(), b.BlockIndex! * BLOCK_SIZE);
    }
    NextToken = page.NextToken ?? undefined;
  } while (NextToken);
  return out.subarray(0, size);
}
