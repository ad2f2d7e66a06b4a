// Test helper (Vitest): an upload left as a closed tab leaves it while completing.
import { expect } from 'vitest';
import { CompleteSnapshotCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { completionPending } from '../job-record.ts';
import type { LedgerStore } from '../ledger.ts';
import { uploadInProcess } from '../upload/upload-image.ts';
import type { JobRecord } from '../upload-types.ts';
import { memorySource, type faultyEmulator } from './upload-test-kit.ts';

/** Uploads an image whose CompleteSnapshot never answers (the tab closed while completing): every block recorded, snapshot pending. */
export async function stalledAtCompletion(image: Uint8Array, emu: ReturnType<typeof faultyEmulator>, store: LedgerStore): Promise<JobRecord> {
  const stalled = { send: (c: unknown) => (c instanceof CompleteSnapshotCommand ? new Promise(() => undefined) : emu.ebs.send(c as never)) } as unknown as EBSClient;
  await uploadInProcess({ source: memorySource(image), name: 'c.raw', lastModified: 1, connection: { kind: 'emulator' }, clients: { ebs: stalled, ec2: emu.ec2 }, store });
  let job = (await store.listJobs())[0]!;
  for (let i = 0; i < 200 && job.state !== 'completing'; i++) {
    await new Promise((r) => setTimeout(r, 10));
    job = (await store.getJob(job.id))!;
  }
  expect(job.state).toBe('completing');
  expect(completionPending(job)).toBe(true);
  return job;
}
