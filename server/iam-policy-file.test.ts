// --iam-policy FILE: the emulator enforces the policies of the file it is given instead of deploy/blockport.json's,
// and a file it cannot use stops it at start (exit 2) with a sentence naming the file and what is wrong.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CognitoIdentityClient, GetCredentialsForIdentityCommand, GetIdCommand } from '@aws-sdk/client-cognito-identity';
import { ListSnapshotBlocksCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { clients, errorOf, region } from './testing/sdk.ts';
import { useTempDir } from './testing/tools.ts';
import { IamPolicyFileError, loadRolePolicies } from './iam.ts';
import { DEFAULT_ACCOUNT } from './backend.ts';

const tempDir = useTempDir('blockport-iam-policy-');

/** A bare policy document: start any snapshot and see them all, never list blocks, and an explicit deny on deletes. */
const POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'StartAny', Effect: 'Allow', Action: ['ebs:StartSnapshot'], Resource: '*' },
    { Sid: 'SeeAll', Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' },
    { Sid: 'DeleteAllowed', Effect: 'Allow', Action: 'ec2:DeleteSnapshot', Resource: '*' },
    { Sid: 'ButNeverDelete', Effect: 'Deny', Action: 'ec2:DeleteSnapshot', Resource: 'arn:aws:ec2:*::snapshot/*' },
  ],
};

/** Credentials of a visitor who has not signed in (the emulator allows those by default). */
async function visitor(emu: SpawnedEmulator) {
  const cognito = new CognitoIdentityClient({ endpoint: emu.url, region });
  const { IdentityId } = await cognito.send(new GetIdCommand({ IdentityPoolId: emu.poolId }));
  const { Credentials: c } = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId }));
  return clients(emu.url, { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretKey!, sessionToken: c!.SessionToken! });
}

/** The output of an emulator that must refuse to start (spawnEmulator rejects with it). */
async function refusedStart(flags: string[]): Promise<string> {
  const err = await spawnEmulator(flags).then(
    async (emu) => {
      await emu.stop();
      throw new Error('the emulator started');
    },
    (e: Error) => e,
  );
  return err.message;
}

describe('--iam-policy FILE', () => {
  let emu: SpawnedEmulator;
  let file: string;
  beforeAll(async () => {
    file = join(tempDir(), 'policy.json');
    writeFileSync(file, JSON.stringify(POLICY, null, 2));
    emu = await spawnEmulator(['--identity-pool', 'visitors', '--iam-policy', file, '--completion-delay-ms', '0']);
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it('enforces the file\'s policy, not the template\'s: what it allows passes, what it leaves out or denies is refused', async () => {
    expect(emu.output()).toContain(`IAM: Cognito-issued credentials limited by ${file}`);
    const { ebs, ec2 } = await visitor(emu);
    // The deploy template refuses a snapshot without the owner tag; this file allows it.
    const id = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
    expect((await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }))).Snapshots![0]!.SnapshotId).toBe(id);
    // The template allows listing one's own blocks; this file does not.
    const list = await errorOf(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })));
    expect(list).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(list.message).toMatch(/not authorized to perform: ebs:ListSnapshotBlocks on resource: arn:aws:ec2:us-east-1::snapshot\/snap-\w+ because no identity-based policy allows/);
    // An explicit Deny wins over the Allow.
    const del = await errorOf(ec2.send(new DeleteSnapshotCommand({ SnapshotId: id })));
    expect(del).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(del.message).toContain('with an explicit deny in an identity-based policy');
  });

  it('a file that does not exist: exit 2 with a sentence', async () => {
    const missing = join(tempDir(), 'absent.json');
    const out = await refusedStart(['--iam-policy', missing]);
    expect(out).toMatch(/exited with 2/);
    expect(out).toContain(`emulator: The IAM policy file ${missing} does not exist: give a CloudFormation template with Cognito roles or an IAM policy document, or --iam-policy off.`);
    expect(out).not.toMatch(/\n\s+at /);
  });

  // Each sentence from the reader the emulator runs at start (one process per sentence costs seconds of loading): an
  // IamPolicyFileError is what the start refuses with exit 2, as the missing file's test above shows for one of them.
  it('a file that is not JSON, or JSON without roles or statements, or a statement it cannot evaluate: an IamPolicyFileError with a sentence each', () => {
    const refusal = (path: string): Error => {
      try {
        loadRolePolicies(path, region, DEFAULT_ACCOUNT);
      } catch (err) {
        expect(err).toBeInstanceOf(IamPolicyFileError);
        return err as Error;
      }
      throw new Error(`${path} was accepted`);
    };
    const torn = join(tempDir(), 'torn.json');
    writeFileSync(torn, JSON.stringify(POLICY).slice(0, 40));
    expect(refusal(torn).message).toMatch(new RegExp(`^The IAM policy file ${torn} is not JSON \\(.+\\): give a CloudFormation template`));

    const empty = join(tempDir(), 'empty.json');
    writeFileSync(empty, JSON.stringify({ Resources: { Bucket: { Type: 'AWS::S3::Bucket' } } }));
    expect(refusal(empty).message).toMatch(new RegExp(`^The IAM policy file ${empty} cannot be used: it has neither a policy document \\(Statement\\) nor Cognito roles`));

    const odd = join(tempDir(), 'odd.json');
    writeFileSync(odd, JSON.stringify({ Statement: [{ Sid: 'Odd', Effect: 'Allow', Action: '*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } } }] }));
    expect(refusal(odd).message).toMatch(/statement Odd uses the condition operator DateGreaterThan, which the emulator's IAM evaluator does not support/);

    const noEffect = join(tempDir(), 'no-effect.json');
    writeFileSync(noEffect, JSON.stringify({ Statement: { Action: '*', Resource: '*' } }));
    expect(refusal(noEffect).message).toMatch(/statement 1 has Effect undefined; it must be Allow or Deny/);
  });
});
