// Browser page for e2e/server-emulator.spec.ts: the real SDK, from another origin, against `npm run emulator`.
import {
  EBSClient,
  StartSnapshotCommand,
  PutSnapshotBlockCommand,
  CompleteSnapshotCommand,
  ListSnapshotBlocksCommand,
  GetSnapshotBlockCommand,
} from '@aws-sdk/client-ebs';
import { EC2Client, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-provider-cognito-identity';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

const BLOCK = 524288;
const region = 'us-east-1';

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
}
function b64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function ebsClient(endpoint: string, credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider, seen: Record<string, string>[]): EBSClient {
  const ebs = new EBSClient({ endpoint, region, credentials, maxAttempts: 1 });
  ebs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutSnapshotBlockCommand') {
        // Unsigned body (the service allows it) and a Blob body: Chromium uploads Blobs far faster than typed arrays.
        const req = args.request as { headers: Record<string, string>; body: unknown };
        req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        if (req.body instanceof Uint8Array) req.body = new Blob([req.body as Uint8Array<ArrayBuffer>]);
      }
      return next(args);
    },
    { step: 'build', name: 'blobBody' },
  );
  // What fetch let the page read of each response's headers (only what CORS exposes).
  ebs.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      seen.push({ ...((out.response as { headers: Record<string, string> }).headers ?? {}) });
      return out;
    },
    { step: 'deserialize', name: 'seeHeaders' },
  );
  return ebs;
}

/** What the spec reads back. */
export interface RoundTrip {
  accessKeyId: string;
  snapshotId: string;
  putChecksums: string[];
  expectedChecksums: string[];
  state: string;
  listed: number[];
  readBack: boolean[];
  getChecksum: string | undefined;
  headersSeen: Record<string, string>[];
  protocols: string[];
}

const api = {
  /** Cognito credentials from the emulator, then start, put (Blob), complete, wait, list and get a snapshot. */
  async roundTrip(endpoint: string, poolId: string): Promise<RoundTrip> {
    const credentials = fromCognitoIdentityPool({ identityPoolId: poolId, clientConfig: { endpoint, region } });
    const creds = await credentials();
    const seen: Record<string, string>[] = [];
    const ebs = ebsClient(endpoint, credentials, seen);
    const ec2 = new EC2Client({ endpoint, region, credentials, maxAttempts: 1 });
    const blocks = [0, 1, 2].map((n) => {
      const b = new Uint8Array(BLOCK);
      b.fill(n + 1, 0, 4096 * (n + 1));
      return b;
    });
    const digests = await Promise.all(blocks.map(sha256));
    // The emulator enforces the deploy template's per-person policy: a snapshot carries its owner's identity.
    const owner = (creds as { identityId?: string }).identityId ?? '';
    const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Description: 'from a browser', Tags: [{ Key: 'blockport-owner', Value: owner }] }));
    const putChecksums: string[] = [];
    await Promise.all(
      blocks.map(async (b, i) => {
        const r = await ebs.send(
          new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: i * 10, BlockData: b, DataLength: BLOCK, Checksum: b64(digests[i]!), ChecksumAlgorithm: 'SHA256' }),
        );
        putChecksums[i] = r.Checksum ?? '';
      }),
    );
    const all = new Uint8Array(32 * digests.length);
    digests.forEach((d, i) => all.set(d, i * 32));
    await ebs.send(
      new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: 3, Checksum: b64(await sha256(all)), ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }),
    );
    let state = 'pending';
    for (let i = 0; i < 200 && state === 'pending'; i++) {
      const d = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [SnapshotId!] }));
      state = d.Snapshots?.[0]?.State ?? 'missing';
      if (state === 'pending') await new Promise((r) => setTimeout(r, 50));
    }
    const list = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId }));
    const readBack: boolean[] = [];
    let getChecksum: string | undefined;
    for (const [i, blk] of (list.Blocks ?? []).entries()) {
      const g = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId, BlockIndex: blk.BlockIndex, BlockToken: blk.BlockToken }));
      const bytes = await g.BlockData!.transformToByteArray();
      readBack.push(bytes.length === BLOCK && bytes.every((x, j) => x === blocks[i]![j]));
      getChecksum ??= g.Checksum;
    }
    const protocols = performance
      .getEntriesByType('resource')
      .filter((e) => e.name.startsWith(endpoint))
      .map((e) => (e as PerformanceResourceTiming).nextHopProtocol);
    return {
      accessKeyId: creds.accessKeyId,
      snapshotId: SnapshotId!,
      putChecksums,
      expectedChecksums: digests.map(b64),
      state,
      listed: (list.Blocks ?? []).map((b) => b.BlockIndex!),
      readBack,
      getChecksum,
      headersSeen: seen,
      protocols: [...new Set(protocols)],
    };
  },

  /** One StartSnapshot with static keys; returns the error name and message (what the app diagnoses) or the id. */
  async tryStart(endpoint: string): Promise<{ ok: boolean; name?: string; message?: string }> {
    const ebs = ebsClient(endpoint, { accessKeyId: 'test', secretAccessKey: 'test' }, []);
    try {
      await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
      return { ok: true };
    } catch (e) {
      return { ok: false, name: (e as Error).name, message: (e as Error).message };
    }
  },
};

declare global {
  interface Window {
    serverClient: typeof api;
  }
}
window.serverClient = api;
document.getElementById('status')!.textContent = 'ready';
