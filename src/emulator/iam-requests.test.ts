import { describe, expect, it } from 'vitest';
import { describeCall } from './iam-requests.ts';

const req = (method: string, path: string, query: Record<string, string> = {}, body = '') => ({ method, path, query, headers: {}, body: new TextEncoder().encode(body) });

describe('what a call asks of IAM', () => {
  it('names the operation and the snapshots it touches, however the path is spelled', () => {
    expect(describeCall('ebs', req('GET', '/snapshots/snap-a/blocks'))).toMatchObject({ action: 'ebs:ListSnapshotBlocks', snapshotIds: ['snap-a'] });
    expect(describeCall('ebs', req('GET', '//snapshots/snap-a/blocks/'))).toMatchObject({ action: 'ebs:ListSnapshotBlocks', snapshotIds: ['snap-a'] });
    expect(describeCall('ebs', req('get', '/snapshots/snap%2Da/blocks/3'))).toMatchObject({ action: 'ebs:GetSnapshotBlock', snapshotIds: ['snap-a'] });
    expect(describeCall('ebs', req('PUT', '/snapshots/snap-a/blocks/3'))).toMatchObject({ action: 'ebs:PutSnapshotBlock', snapshotIds: ['snap-a'] });
    expect(describeCall('ebs', req('POST', '/snapshots/completion/snap-a'))).toMatchObject({ action: 'ebs:CompleteSnapshot', snapshotIds: ['snap-a'] });
    expect(describeCall('ebs', req('GET', '/snapshots/snap-b/changedblocks', { firstSnapshotId: 'snap-a' }))).toMatchObject({ snapshotIds: ['snap-a', 'snap-b'] });
    const start = describeCall('ebs', req('POST', '/snapshots/', {}, JSON.stringify({ VolumeSize: 1, ParentSnapshotId: 'snap-p', Tags: [{ Key: 'k', Value: 'v' }] })));
    expect(start).toMatchObject({ action: 'ebs:StartSnapshot', parentSnapshotId: 'snap-p', requestTags: [{ key: 'k', value: 'v' }] });
    expect(describeCall('ec2', req('POST', '/', {}, 'Action=DeleteSnapshot&SnapshotId=snap-a'))).toMatchObject({ action: 'ec2:DeleteSnapshot', snapshotIds: ['snap-a'] });
    expect(describeCall('ec2', req('GET', '/', { Action: 'DescribeSnapshots' }))).toMatchObject({ action: 'ec2:DescribeSnapshots', snapshotIds: [] });
    // Paths the service itself does not route: no operation, so the service answers UnknownOperation.
    expect(describeCall('ebs', req('GET', '/snapshots%2Fsnap-a/blocks'))).toBeUndefined();
    expect(describeCall('ebs', req('DELETE', '/snapshots/snap-a'))).toBeUndefined();
  });
});
