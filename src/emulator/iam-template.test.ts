import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluateAll, type IamPolicy } from './iam-evaluate.ts';
import { authorizationRequests, type IamCall, type IamPrincipal, type IamTag } from './iam-requests.ts';
import { rolePoliciesFrom } from './iam-template.ts';

const template = JSON.parse(readFileSync(fileURLToPath(new URL('../../deploy/blockport.json', import.meta.url)), 'utf8'));
const region = 'eu-west-1';
const roles = rolePoliciesFrom(template, { region, accountId: '111122223333' });
const pool = `${region}:00000000-0000-4000-a000-000000000000`;
const alice = `${region}:11111111-1111-4111-a111-111111111111`;
const bob = `${region}:22222222-2222-4222-a222-222222222222`;
const owner = (id: string): IamTag[] => [
  { key: 'created-by', value: 'blockport' },
  { key: 'blockport-owner', value: id },
];
const tags: Record<string, IamTag[]> = {
  'snap-a': owner(alice),
  'snap-b': owner(bob),
  'snap-untagged': [],
  'snap-other-tag': [{ key: 'owner', value: alice }],
  'ami-a': owner(alice),
  'ami-b': owner(bob),
};

function allowed(policies: IamPolicy[], who: IamPrincipal, call: IamCall): boolean {
  const reqs = authorizationRequests(call, { region, principal: who, tagsOf: (id) => tags[id] });
  return evaluateAll(policies, reqs).allowed;
}

const start = (t: IamTag[], parent?: string): IamCall => ({
  operation: 'StartSnapshot',
  action: 'ebs:StartSnapshot',
  snapshotIds: [],
  requestTags: t,
  volumeSize: 1,
  ...(parent ? { parentSnapshotId: parent } : {}),
});
const on = (action: string, ...ids: string[]): IamCall => ({ operation: action.split(':')[1]!, action, snapshotIds: ids });
const PER_SNAPSHOT = ['ebs:PutSnapshotBlock', 'ebs:CompleteSnapshot', 'ebs:ListSnapshotBlocks', 'ebs:GetSnapshotBlock', 'ebs:ListChangedBlocks', 'ec2:DeleteSnapshot'];

describe('the deploy template’s own policies, evaluated by the emulator’s IAM', () => {
  it('finds both Cognito roles and their policy', () => {
    expect(roles.authenticated.length).toBe(1);
    expect(roles.unauthenticated.length).toBe(1);
  });

  for (const kind of ['authenticated', 'unauthenticated'] as const) {
    const policies = roles[kind];
    const me: IamPrincipal = { identityId: alice, poolId: pool, authenticated: kind === 'authenticated' };

    describe(`${kind} role`, () => {
      it('allows what the app needs on the caller’s own snapshots', () => {
        expect(allowed(policies, me, start(owner(alice)))).toBe(true);
        expect(allowed(policies, me, start([{ key: 'blockport-owner', value: alice }, { key: 'Name', value: 'disk' }]))).toBe(true);
        expect(allowed(policies, me, start(owner(alice), 'snap-a'))).toBe(true);
        for (const a of PER_SNAPSHOT) expect(allowed(policies, me, on(a, 'snap-a')), a).toBe(true);
        expect(allowed(policies, me, on('ebs:ListChangedBlocks', 'snap-a', 'snap-a'))).toBe(true);
        expect(allowed(policies, me, on('ec2:DescribeSnapshots'))).toBe(true);
      });

      it('allows nothing on anyone else’s snapshot, nor on untagged ones', () => {
        for (const id of ['snap-b', 'snap-untagged', 'snap-other-tag']) {
          for (const a of PER_SNAPSHOT) expect(allowed(policies, me, on(a, id)), `${a} on ${id}`).toBe(false);
          expect(allowed(policies, me, start(owner(alice), id)), `new version of ${id}`).toBe(false);
        }
        expect(allowed(policies, me, on('ebs:ListChangedBlocks', 'snap-b', 'snap-a'))).toBe(false);
        expect(allowed(policies, me, on('ebs:ListChangedBlocks', 'snap-a', 'snap-b'))).toBe(false);
      });

      it('refuses to start a snapshot not tagged with the caller’s own identity', () => {
        expect(allowed(policies, me, start([]))).toBe(false);
        expect(allowed(policies, me, start([{ key: 'created-by', value: 'blockport' }]))).toBe(false);
        expect(allowed(policies, me, start(owner(bob)))).toBe(false);
        expect(allowed(policies, me, start([{ key: 'blockport-owner', value: '*' }]))).toBe(false);
      });

      it('registers AMIs only from the caller’s own snapshots, tagged as theirs, and deregisters only their own', () => {
        const register = (snapshot: string, t: IamTag[]): IamCall => ({ operation: 'RegisterImage', action: 'ec2:RegisterImage', snapshotIds: [snapshot], requestTags: t });
        expect(allowed(policies, me, register('snap-a', owner(alice)))).toBe(true);
        expect(allowed(policies, me, register('snap-b', owner(alice))), 'from another’s snapshot').toBe(false);
        expect(allowed(policies, me, register('snap-untagged', owner(alice))), 'from an untagged snapshot').toBe(false);
        expect(allowed(policies, me, register('snap-a', owner(bob))), 'tagged as another’s').toBe(false);
        expect(allowed(policies, me, register('snap-a', [])), 'untagged image').toBe(false);
        expect(allowed(policies, me, on('ec2:DescribeImages'))).toBe(true);
        const deregister = (id: string): IamCall => ({ operation: 'DeregisterImage', action: 'ec2:DeregisterImage', snapshotIds: [], imageIds: [id] });
        expect(allowed(policies, me, deregister('ami-a'))).toBe(true);
        expect(allowed(policies, me, deregister('ami-b'))).toBe(false);
      });

      it('grants no other action: no retagging, sharing, copying or volumes', () => {
        for (const a of ['ec2:CreateTags', 'ec2:DeleteTags', 'ec2:ModifySnapshotAttribute', 'ec2:CopySnapshot', 'ec2:CreateVolume', 'ec2:RegisterImage', 'ebs:*']) {
          expect(allowed(policies, me, on(a, 'snap-a')), a).toBe(false);
          expect(allowed(policies, me, on(a)), a).toBe(false);
        }
      });
    });
  }
});
