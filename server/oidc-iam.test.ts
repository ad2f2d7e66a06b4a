import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { CognitoIdentityClient, GetCredentialsForIdentityCommand, GetIdCommand } from '@aws-sdk/client-cognito-identity';
import { CompleteSnapshotCommand, GetSnapshotBlockCommand, ListSnapshotBlocksCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { clients, errorOf, region } from './testing/sdk.ts';

let emu: SpawnedEmulator;

beforeAll(async () => {
  emu = await spawnEmulator(['--identity-pool', 'people', '--oidc-user', 'alice:wonder', '--oidc-user', 'bob:builder', '--unauthenticated', 'off', '--completion-delay-ms', '0']);
});
afterAll(async () => {
  await emu?.stop();
});

/** Signs in through the provider's form as a browser would, and returns the ID token. */
async function signIn(username: string, password: string, verifier = randomBytes(32).toString('base64url')): Promise<string> {
  const issuer = `${emu.url}/oidc`;
  const conf = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  expect(conf.issuer).toBe(issuer);
  const params = {
    response_type: 'code',
    client_id: 'blockport',
    redirect_uri: 'http://127.0.0.1:9/back',
    scope: 'openid',
    state: 's1',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  };
  const page = await fetch(`${conf.authorization_endpoint}?${new URLSearchParams(params)}`);
  expect(await page.text()).toContain('<form');
  const r = await fetch(conf.authorization_endpoint!, { method: 'POST', body: new URLSearchParams({ ...params, username, password }), redirect: 'manual' });
  expect(r.status).toBe(302);
  const back = new URL(r.headers.get('location')!);
  expect(back.searchParams.get('state')).toBe('s1');
  const code = back.searchParams.get('code')!;
  const t = await fetch(conf.token_endpoint!, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: params.redirect_uri, client_id: 'blockport', code_verifier: verifier }),
  });
  expect(t.status).toBe(200);
  return ((await t.json()) as { id_token: string }).id_token;
}

async function person(username: string, password: string) {
  const token = await signIn(username, password);
  const provider = `${new URL(emu.url).host}/oidc`;
  const cognito = new CognitoIdentityClient({ endpoint: emu.url, region });
  const { IdentityId } = await cognito.send(new GetIdCommand({ IdentityPoolId: emu.poolId, Logins: { [provider]: token } }));
  const { Credentials: c } = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId, Logins: { [provider]: token } }));
  const credentials = { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretKey!, sessionToken: c!.SessionToken! };
  return {
    id: IdentityId!,
    token,
    provider,
    ...clients(emu.url, credentials),
  };
}

const data = new Uint8Array(524288).fill(7);
const checksum = createHash('sha256').update(data).digest('base64');

describe('sign-in and per-person IAM on the HTTP emulator', () => {
  it('refuses a wrong password, a bad verifier, and visitors who have not signed in', async () => {
    await expect(signIn('alice', 'nope')).rejects.toThrow();
    const cognito = new CognitoIdentityClient({ endpoint: emu.url, region });
    expect(await errorOf(cognito.send(new GetIdCommand({ IdentityPoolId: emu.poolId })))).toMatchObject({ name: 'NotAuthorizedException' });
    const provider = `${new URL(emu.url).host}/oidc`;
    expect(await errorOf(cognito.send(new GetIdCommand({ IdentityPoolId: emu.poolId, Logins: { [provider]: 'a.b.c' } })))).toMatchObject({ name: 'NotAuthorizedException' });
  });

  it('gives each person one identity, and lets each touch only their own snapshots', async () => {
    const alice = await person('alice', 'wonder');
    const again = await person('alice', 'wonder');
    const bob = await person('bob', 'builder');
    expect(again.id).toBe(alice.id);
    expect(bob.id).not.toBe(alice.id);
    // Bob's token does not open Alice's identity.
    const cognito = new CognitoIdentityClient({ endpoint: emu.url, region });
    expect(await errorOf(cognito.send(new GetCredentialsForIdentityCommand({ IdentityId: alice.id, Logins: { [bob.provider]: bob.token } })))).toMatchObject({ name: 'NotAuthorizedException' });

    const own = (id: string) => [{ Key: 'blockport-owner', Value: id }];
    expect(await errorOf(alice.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })))).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(await errorOf(alice.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Tags: own(bob.id) })))).toMatchObject({ name: 'AccessDeniedException' });
    const a = (await alice.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Tags: own(alice.id) }))).SnapshotId!;
    await alice.ebs.send(new PutSnapshotBlockCommand({ SnapshotId: a, BlockIndex: 0, BlockData: data, DataLength: data.length, Checksum: checksum, ChecksumAlgorithm: 'SHA256' }));
    await alice.ebs.send(new CompleteSnapshotCommand({ SnapshotId: a, ChangedBlocksCount: 1 }));
    const listed = await alice.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: a }));
    expect(listed.Blocks).toHaveLength(1);

    const denied = { name: 'AccessDeniedException', status: 403 };
    expect(await errorOf(bob.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: a })))).toMatchObject(denied);
    expect(await errorOf(bob.ebs.send(new GetSnapshotBlockCommand({ SnapshotId: a, BlockIndex: 0, BlockToken: listed.Blocks![0]!.BlockToken })))).toMatchObject(denied);
    expect(await errorOf(bob.ebs.send(new PutSnapshotBlockCommand({ SnapshotId: a, BlockIndex: 1, BlockData: data, DataLength: data.length, Checksum: checksum, ChecksumAlgorithm: 'SHA256' })))).toMatchObject(denied);
    expect(await errorOf(bob.ebs.send(new CompleteSnapshotCommand({ SnapshotId: a, ChangedBlocksCount: 1 })))).toMatchObject(denied);
    expect(await errorOf(bob.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: a, Tags: own(bob.id) })))).toMatchObject(denied);
    const del = await errorOf(bob.ec2.send(new DeleteSnapshotCommand({ SnapshotId: a })));
    expect(del).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(del.message).toContain('ec2:DeleteSnapshot');
    // Alice builds a new version of her own snapshot, and deletes it.
    const v2 = (await alice.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: a, Tags: own(alice.id) }))).SnapshotId!;
    expect(v2).toMatch(/^snap-/);
    const d = await alice.ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:blockport-owner', Values: [alice.id] }] }));
    expect(d.Snapshots!.map((s) => s.SnapshotId).sort()).toEqual([a, v2].sort());
    await alice.ec2.send(new DeleteSnapshotCommand({ SnapshotId: v2 }));
  });
});
