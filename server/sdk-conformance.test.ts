// The shared SDK conformance scenarios (src/emulator/testing/conformance/), run over real HTTP against `npm run emulator`:
// the same scenarios the in-process and IndexedDB emulators pass, now through sockets, SigV4 and the server's routing.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { FetchHttpHandler } from '@smithy/fetch-http-handler';
import { scenarios, type ConformanceContext } from '../src/emulator/testing/conformance/index.ts';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';

const COMPLETION_DELAY_MS = 3000;
const LONG = Boolean(process.env.BLOCKPORT_LONG);

async function admin(emu: SpawnedEmulator, path: string, body: unknown): Promise<unknown> {
  const r = await emu.admin(path, body);
  if (!r.ok) throw new Error(`admin ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

describe.each(['memory', 'fs'])('EBS direct API conformance over HTTP (JS SDK → npm run emulator, %s store)', (kind) => {
  let emu: SpawnedEmulator;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = kind === 'fs' ? await mkdtemp(join(tmpdir(), 'blockport-conf-')) : undefined;
    emu = await spawnEmulator(['--completion-delay-ms', String(COMPLETION_DELAY_MS), ...(dir ? ['--data-dir', dir] : [])]);
  });
  afterAll(async () => {
    await emu.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function context(): Promise<ConformanceContext> {
    await admin(emu, 'reset', {});
    // The model's clock moves only when a scenario says so, as in the in-process runs.
    await admin(emu, 'clock', { freeze: true });
    const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
    return {
      // The fetch handler, as in a browser: it takes Blob bodies, which the upload engine sends.
      ebs: new EBSClient({ endpoint: emu.url, region: 'us-east-1', credentials, maxAttempts: 1, requestHandler: new FetchHttpHandler() }),
      ec2: new EC2Client({ endpoint: emu.url, region: 'us-east-1', credentials, maxAttempts: 1 }),
      completionDelayMs: COMPLETION_DELAY_MS,
      advanceTime: async (ms) => {
        await admin(emu, 'clock', { advanceMs: ms });
      },
      configure: async (patch) => {
        await admin(emu, 'config', patch);
      },
      failNext: async (op, fault) => {
        await admin(emu, 'fail-next', { op, ...fault });
      },
      otherAccount: async () => {
        const other = { accessKeyId: 'AKIDOTHERACCOUNT', secretAccessKey: 'other-secret' };
        await admin(emu, 'accounts', { ...other, accountId: '444455556666' });
        return {
          ebs: new EBSClient({ endpoint: emu.url, region: 'us-east-1', credentials: other, maxAttempts: 1, requestHandler: new FetchHttpHandler() }),
          ec2: new EC2Client({ endpoint: emu.url, region: 'us-east-1', credentials: other, maxAttempts: 1 }),
        };
      },
      stats: async () => {
        const r = await emu.admin('state');
        return ((await r.json()) as { ebs: { stats: { blobs: number; bytes: number; blockRecords: number; snapshots: number } } }).ebs.stats;
      },
    };
  }

  // The request quotas are counted by the model, whatever its store: a thousand requests over HTTP are sent again for
  // the file store only under `npm run test:long`.
  const repeat = (name: string): boolean => kind === 'fs' && !LONG && name.startsWith('quotas (when enforced)');
  for (const s of scenarios) it.skipIf(repeat(s.name))(s.name, async () => s.run(await context()));
});
