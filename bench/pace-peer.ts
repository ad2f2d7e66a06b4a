// The bench's peer: an uploader built the way coldsnap works, a fixed pool of 64 PutSnapshotBlock calls through the
// AWS SDK, empty blocks skipped, then CompleteSnapshot and a wait for `completed`. Prints {ms, written} as JSON.
// Usage: node --import tsx bench/pace-peer.ts <image> <endpoint> [pool]
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Agent } from 'node:http';
import { CompleteSnapshotCommand, EBSClient, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const BLOCK = 524288;
const [image, endpoint, poolArg] = process.argv.slice(2);
if (!image || !endpoint) throw new Error('usage: pace-peer.ts <image> <endpoint> [pool]');
const pool = Number(poolArg ?? 64);

const t0 = performance.now();
const handler = new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: pool }) });
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, requestHandler: handler };
const ebs = new EBSClient(common);
const ec2 = new EC2Client(common);
const fh = await open(image, 'r');
const size = (await fh.stat()).size;
const blocks = Math.ceil(size / BLOCK);
const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: Math.max(1, Math.ceil(size / 1024 ** 3)), Timeout: 60 }));
const digests = new Map<number, Buffer>();
let next = 0;
const zero = Buffer.alloc(BLOCK);
const lane = async () => {
  const buf = Buffer.alloc(BLOCK);
  for (;;) {
    const i = next++;
    if (i >= blocks) return;
    buf.fill(0);
    await fh.read(buf, 0, BLOCK, i * BLOCK);
    if (buf.equals(zero)) continue;
    const digest = createHash('sha256').update(buf).digest();
    digests.set(i, digest);
    await ebs.send(
      new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: i, BlockData: Buffer.from(buf), DataLength: BLOCK, Checksum: digest.toString('base64'), ChecksumAlgorithm: 'SHA256' }),
    );
  }
};
await Promise.all(Array.from({ length: pool }, lane));
await fh.close();
const ordered = [...digests.keys()].sort((a, b) => a - b).map((i) => digests.get(i)!);
const aggregate = createHash('sha256').update(Buffer.concat(ordered)).digest('base64');
await ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: digests.size, Checksum: aggregate, ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }));
for (;;) {
  const d = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [SnapshotId!] }));
  const state = d.Snapshots?.[0]?.State;
  if (state === 'completed') break;
  if (state === 'error') throw new Error(`snapshot ${SnapshotId} ended in error`);
  await new Promise((r) => setTimeout(r, 250));
}
console.log(JSON.stringify({ ms: performance.now() - t0, written: digests.size, snapshotId: SnapshotId }));
handler.destroy();
