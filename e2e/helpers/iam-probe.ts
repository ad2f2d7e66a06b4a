// Runs in the page (served by Vite): the page's own connection (the signed-in person's credentials, the relay) tries
// each snapshot operation, and says what the page would tell the person when one is refused.
import { CompleteSnapshotCommand, GetSnapshotBlockCommand, ListSnapshotBlocksCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand } from '@aws-sdk/client-ec2';
import { connection } from '../../src/app/shared/connection.svelte.ts';
import { advise } from '../../src/aws/advice.ts';
import { ownerOf } from '../../src/aws/aws-connection.ts';
import { createClients } from '../../src/aws/clients.ts';
import { listSnapshots } from '../../src/aws/snapshots.ts';

/** One operation's outcome: ok, or the service's error name and the page's sentence for it. */
export interface Attempt {
  ok: boolean;
  name?: string;
  what?: string;
  action?: string;
}

async function attempt(service: 'ebs' | 'ec2', run: () => Promise<unknown>): Promise<Attempt> {
  const c = connection.current;
  try {
    await run();
    return { ok: true };
  } catch (e) {
    const a = c.kind === 'aws' ? advise(e, { settings: c.settings, service, origin: location.origin }) : undefined;
    return { ok: false, name: (e as Error).name, ...(a ? { what: a.what, action: a.action } : {}) };
  }
}

/** Each of the six things a person might do to a snapshot, tried with the page's connection. */
export async function touch(snapshotId: string): Promise<Record<string, Attempt>> {
  const { ebs, ec2, close } = await createClients(connection.current);
  const block = new Uint8Array(524288);
  const sum = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest('SHA-256', block))));
  try {
    return {
      list: await attempt('ebs', () => ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId }))),
      read: await attempt('ebs', () => ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: 0, BlockToken: 'AAUBAdNyK2AgM/e0ag4VHr4sF+0kpR0VstAf2lr7tEbEMg8DaW4hYyyQ9Q==' }))),
      write: await attempt('ebs', () =>
        ebs.send(new PutSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: 7, BlockData: block, DataLength: block.length, Checksum: sum, ChecksumAlgorithm: 'SHA256' })),
      ),
      complete: await attempt('ebs', () => ebs.send(new CompleteSnapshotCommand({ SnapshotId: snapshotId, ChangedBlocksCount: 0 }))),
      newVersion: await attempt('ebs', () => ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: snapshotId, Description: 'a new version' }))),
      delete: await attempt('ec2', () => ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }))),
    };
  } finally {
    close();
  }
}

/** Lists a snapshot's blocks and reads each with the page's connection: what a person downloading it does. */
export async function readOwn(snapshotId: string): Promise<{ list: Attempt; blocks: { index: number; digest: string }[]; read: Attempt }> {
  const { ebs, close } = await createClients(connection.current);
  const blocks: { index: number; digest: string }[] = [];
  let listed: { BlockIndex?: number; BlockToken?: string }[] = [];
  try {
    const list = await attempt('ebs', async () => {
      let next: string | undefined;
      do {
        const page = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, ...(next ? { NextToken: next } : {}) }));
        listed = [...listed, ...(page.Blocks ?? [])];
        next = page.NextToken;
      } while (next);
    });
    const read = await attempt('ebs', async () => {
      for (const b of listed) {
        const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: b.BlockIndex!, BlockToken: b.BlockToken! }));
        const data = await got.BlockData!.transformToByteArray();
        const digest = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>))));
        blocks.push({ index: b.BlockIndex!, digest });
      }
    });
    return { list, blocks, read };
  } finally {
    close();
  }
}

/** The snapshots the library would list for the person signed in (as the library asks EC2), and their identity. */
export async function ownSnapshots(): Promise<{ owner?: string; ids: string[] }> {
  const c = connection.current;
  if (c.kind !== 'aws') throw new Error('The page is not connected to AWS.');
  const { ec2, close } = await createClients(c);
  try {
    const owner = await ownerOf(c);
    return { ...(owner ? { owner } : {}), ids: (await listSnapshots(ec2, { onlyBlockport: true, ...(owner ? { owner } : {}) })).map((s) => s.snapshotId) };
  } finally {
    close();
  }
}

/** What DescribeSnapshots shows this person without the owner filter (IAM cannot narrow it: the app must). */
export async function everySnapshotIdVisible(): Promise<string[]> {
  const { ec2, close } = await createClients(connection.current);
  try {
    return (await listSnapshots(ec2)).map((s) => s.snapshotId);
  } finally {
    close();
  }
}
