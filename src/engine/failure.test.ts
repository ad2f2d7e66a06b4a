import { describe, expect, it } from 'vitest';
import { describeFailure } from './failure.ts';

describe('failure sentences', () => {
  it('names a snapshot the per-person policy refused as not yours, not as bad credentials', () => {
    const e = Object.assign(new Error('User: arn:aws:sts::111122223333:assumed-role/AuthenticatedRole/CognitoIdentityCredentials is not authorized to perform: ebs:GetSnapshotBlock on resource: arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0 because no identity-based policy allows the ebs:GetSnapshotBlock action'), { name: 'AccessDeniedException' });
    expect(describeFailure(e)).toEqual({
      code: 'not-yours',
      message: 'Snapshot snap-0123456789abcdef0 is not yours: each person may read, write, delete or build on only the snapshots they started. Pick one of your own, or sign in as the person who started it.',
    });
    const bare = Object.assign(new Error('User is not authorized to perform: ebs:StartSnapshot'), { name: 'AccessDeniedException' });
    expect(describeFailure(bare).code).toBe('credentials');
  });
});
