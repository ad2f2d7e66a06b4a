import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { CognitoIdentityClient, GetCredentialsForIdentityCommand, GetIdCommand } from '@aws-sdk/client-cognito-identity';
import { CompleteSnapshotCommand, GetSnapshotBlockCommand, ListSnapshotBlocksCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, RegisterImageCommand, type Tag } from '@aws-sdk/client-ec2';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { clients, errorOf, region } from './testing/sdk.ts';

let emu: SpawnedEmulator;

beforeAll(async () => {
  emu = await spawnEmulator(['--identity-pool', 'people', '--oidc-user', 'alice:wonder', '--oidc-user', 'bob:builder', '--unauthenticated', 'off', '--completion-delay-ms', '0']);
});
afterAll(async () => {
  await emu?.stop();
});

const REDIRECT = 'http://127.0.0.1:9/back';

/** Signs in through the provider's form as a browser would, up to the redirect back: the authorization code. */
async function authorize(username: string, password: string, verifier: string): Promise<{ code: string; tokenEndpoint: string }> {
  const issuer = `${emu.url}/oidc`;
  const conf = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  expect(conf.issuer).toBe(issuer);
  const params = {
    response_type: 'code',
    client_id: 'blockport',
    redirect_uri: REDIRECT,
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
  return { code: back.searchParams.get('code')!, tokenEndpoint: conf.token_endpoint! };
}

/** Redeems a code at the token endpoint with `verifier` (omitted when undefined). */
function redeem(tokenEndpoint: string, code: string, verifier: string | undefined): Promise<Response> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'blockport' });
  if (verifier !== undefined) body.set('code_verifier', verifier);
  return fetch(tokenEndpoint, { method: 'POST', body });
}

/** Signs in and returns the ID token. */
async function signIn(username: string, password: string, verifier = randomBytes(32).toString('base64url')): Promise<string> {
  const { code, tokenEndpoint } = await authorize(username, password, verifier);
  const t = await redeem(tokenEndpoint, code, verifier);
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
  it('refuses a wrong PKCE code_verifier at the token endpoint (and a missing one); the code is spent either way', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const wrong = randomBytes(32).toString('base64url');
    const first = await authorize('alice', 'wonder', verifier);
    const refused = await redeem(first.tokenEndpoint, first.code, wrong);
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as Record<string, string>;
    expect(body).toMatchObject({ error: 'invalid_grant', error_description: 'The PKCE code_verifier does not match the code_challenge.' });
    expect(body.id_token).toBeUndefined();
    // Whoever stole the code and guessed wrong has spent it: the right verifier no longer redeems it.
    const late = await redeem(first.tokenEndpoint, first.code, verifier);
    expect(late.status).toBe(400);
    expect(await late.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/unknown, used or expired/) });

    const second = await authorize('alice', 'wonder', verifier);
    const none = await redeem(second.tokenEndpoint, second.code, undefined);
    expect(none.status).toBe(400);
    expect(await none.json()).toMatchObject({ error: 'invalid_grant', error_description: 'The PKCE code_verifier does not match the code_challenge.' });
    // The challenge's own verifier works on a fresh code.
    const third = await authorize('alice', 'wonder', verifier);
    const ok = await redeem(third.tokenEndpoint, third.code, verifier);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { id_token: string }).id_token.split('.')).toHaveLength(3);
  });

  it('refuses a wrong password, a forged token, and visitors who have not signed in', async () => {
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

  it('lets each person register an AMI only from their own snapshot, tagged as theirs, and deregister only their own', async () => {
    const alice = await person('alice', 'wonder');
    const bob = await person('bob', 'builder');
    const own = (id: string) => [{ Key: 'blockport-owner', Value: id }];
    const completed = async (p: typeof alice): Promise<string> => {
      const id = (await p.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Tags: own(p.id) }))).SnapshotId!;
      await p.ebs.send(new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 0, BlockData: data, DataLength: data.length, Checksum: checksum, ChecksumAlgorithm: 'SHA256' }));
      await p.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1 }));
      return id;
    };
    const aliceSnap = await completed(alice);
    const bobSnap = await completed(bob);
    const register = (p: typeof alice, snapshotId: string, name: string, tags: Tag[], dryRun = false) =>
      p.ec2.send(
        new RegisterImageCommand({
          ...(dryRun ? { DryRun: true } : {}),
          Name: name,
          Architecture: 'x86_64',
          RootDeviceName: '/dev/xvda',
          VirtualizationType: 'hvm',
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, VolumeType: 'gp3' } }],
          ...(tags.length ? { TagSpecifications: [{ ResourceType: 'image', Tags: tags }] } : {}),
        }),
      );

    // Alice on Bob's snapshot: refused on the snapshot, whatever the image is tagged with.
    for (const tags of [own(alice.id), own(bob.id)]) {
      const e = await errorOf(register(alice, bobSnap, `alice-from-bob-${tags[0]!.Value === alice.id ? 'a' : 'b'}`, tags));
      expect(e).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
      expect(e.message).toContain(`ec2:RegisterImage on resource: arn:aws:ec2:us-east-1::snapshot/${bobSnap}`);
    }
    // On her own snapshot, an image not tagged as hers (or tagged as Bob's) is refused too.
    expect(await errorOf(register(alice, aliceSnap, 'alice-untagged', []))).toMatchObject({ name: 'UnauthorizedOperation' });
    expect(await errorOf(register(alice, aliceSnap, 'alice-as-bob', own(bob.id)))).toMatchObject({ name: 'UnauthorizedOperation' });
    const describe = (p: typeof alice) => p.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    expect((await describe(alice)).Images ?? []).toEqual([]);

    // A dry run, as EC2 documents it: DryRunOperation where she has the permissions, UnauthorizedOperation where not.
    const dry = await errorOf(register(alice, aliceSnap, 'alice-dry', own(alice.id), true));
    expect(dry).toMatchObject({ name: 'DryRunOperation', status: 412, message: 'Request would have succeeded, but DryRun flag is set.' });
    const dryRefused = await errorOf(register(alice, bobSnap, 'alice-dry-bob', own(alice.id), true));
    expect(dryRefused).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(dryRefused.message).toContain(`ec2:RegisterImage on resource: arn:aws:ec2:us-east-1::snapshot/${bobSnap}`);
    expect(await errorOf(register(alice, aliceSnap, 'alice-dry-untagged', [], true))).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect((await describe(alice)).Images ?? []).toEqual([]);

    // Her own snapshot, tagged as hers: registered, and she reads it back.
    const image = (await register(alice, aliceSnap, 'alice-own', own(alice.id))).ImageId!;
    expect(image).toMatch(/^ami-[0-9a-f]+$/);
    const seen = (await alice.ec2.send(new DescribeImagesCommand({ ImageIds: [image] }))).Images![0]!;
    expect(seen.BlockDeviceMappings![0]!.Ebs!.SnapshotId).toBe(aliceSnap);
    expect(seen.Tags).toEqual(own(alice.id));
    // Bob may register from his own, but not deregister hers; she may.
    expect((await register(bob, bobSnap, 'bob-own', own(bob.id))).ImageId).toMatch(/^ami-/);
    const dereg = await errorOf(bob.ec2.send(new DeregisterImageCommand({ ImageId: image })));
    expect(dereg).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(dereg.message).toContain(`ec2:DeregisterImage on resource: arn:aws:ec2:us-east-1::image/${image}`);
    await alice.ec2.send(new DeregisterImageCommand({ ImageId: image }));
    expect(await errorOf(alice.ec2.send(new DescribeImagesCommand({ ImageIds: [image] })))).toMatchObject({ name: 'InvalidAMIID.NotFound' });
  });
});
