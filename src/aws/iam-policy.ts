// The least-privilege, per-person IAM policy Blockport needs; deploy/blockport.json carries the same statements.

/** The tag Blockport puts on every snapshot it starts (the library lists Blockport's snapshots by it). */
export const BLOCKPORT_TAG = { Key: 'created-by', Value: 'blockport' } as const;

/** The tag naming a snapshot's owner: the Cognito identity id of the person who started it. */
export const OWNER_TAG_KEY = 'blockport-owner';

/** The IAM policy variable that stands for the caller's Cognito identity id. */
export const IDENTITY_VARIABLE = '${cognito-identity.amazonaws.com:sub}';

/** The six EBS direct API actions. */
export const EBS_ACTIONS = [
  'ebs:StartSnapshot',
  'ebs:PutSnapshotBlock',
  'ebs:CompleteSnapshot',
  'ebs:ListSnapshotBlocks',
  'ebs:ListChangedBlocks',
  'ebs:GetSnapshotBlock',
] as const;

/** One IAM policy statement. */
export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string;
  Condition?: Record<string, Record<string, string | string[]>>;
}

/**
 * The policy for the Cognito roles, for a partition and region: each person starts snapshots only tagged with
 * their own identity, and reads, writes, deletes or builds a new version only on snapshots carrying it.
 * DescribeSnapshots has no resource-level permissions in EC2, so the app filters the list by the owner tag.
 */
export function blockportPolicy(region: string, partition = region.startsWith('cn-') ? 'aws-cn' : 'aws'): {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
} {
  const snapshots = `arn:${partition}:ec2:${region}::snapshot/*`;
  const requestOwner = { [`aws:RequestTag/${OWNER_TAG_KEY}`]: IDENTITY_VARIABLE };
  const resourceOwner = { [`aws:ResourceTag/${OWNER_TAG_KEY}`]: IDENTITY_VARIABLE };
  const ownerKey = { 'aws:TagKeys': [OWNER_TAG_KEY] };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'StartOwnSnapshots',
        Effect: 'Allow',
        Action: ['ebs:StartSnapshot'],
        Resource: snapshots,
        Condition: { StringEquals: requestOwner, 'ForAnyValue:StringEquals': ownerKey, Null: { 'ebs:ParentSnapshot': 'true' } },
      },
      {
        Sid: 'StartNewVersionsOfOwnSnapshots',
        Effect: 'Allow',
        Action: ['ebs:StartSnapshot'],
        Resource: snapshots,
        Condition: { StringEquals: { ...requestOwner, ...resourceOwner }, 'ForAnyValue:StringEquals': ownerKey },
      },
      {
        Sid: 'TagOnlyWhileStarting',
        Effect: 'Allow',
        Action: ['ec2:CreateTags'],
        Resource: snapshots,
        Condition: { StringEquals: { 'ec2:CreateAction': 'StartSnapshot', ...requestOwner } },
      },
      {
        Sid: 'ReadAndWriteOwnSnapshots',
        Effect: 'Allow',
        Action: EBS_ACTIONS.filter((a) => a !== 'ebs:StartSnapshot'),
        Resource: snapshots,
        Condition: { StringEquals: resourceOwner },
      },
      { Sid: 'ReadSnapshotState', Effect: 'Allow', Action: ['ec2:DescribeSnapshots'], Resource: '*' },
      { Sid: 'DeleteOwnSnapshots', Effect: 'Allow', Action: ['ec2:DeleteSnapshot'], Resource: snapshots, Condition: { StringEquals: resourceOwner } },
      ...imageStatements(partition, region),
    ],
  };
}

/** AMIs from a person's own snapshots only, tagged as theirs (the snapshot's tags are copied onto the image). */
function imageStatements(partition: string, region: string): PolicyStatement[] {
  const own = '${cognito-identity.amazonaws.com:sub}';
  const arn = (kind: string) => `arn:${partition}:ec2:${region}::${kind}/*`;
  return [
    { Sid: 'RegisterImagesFromOwnSnapshots', Effect: 'Allow', Action: ['ec2:RegisterImage'], Resource: arn('snapshot'), Condition: { StringEquals: { 'ec2:ResourceTag/blockport-owner': own } } },
    { Sid: 'RegisterImagesTaggedAsOwn', Effect: 'Allow', Action: ['ec2:RegisterImage'], Resource: arn('image'), Condition: { StringEquals: { 'aws:RequestTag/blockport-owner': own } } },
    { Sid: 'TagImagesOnRegister', Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: arn('image'), Condition: { StringEquals: { 'ec2:CreateAction': 'RegisterImage', 'aws:RequestTag/blockport-owner': own } } },
    // DescribeImages has no resource-level permissions in the Service Authorization Reference.
    { Sid: 'ReadImageState', Effect: 'Allow', Action: ['ec2:DescribeImages'], Resource: '*' },
    { Sid: 'DeregisterOwnImages', Effect: 'Allow', Action: ['ec2:DeregisterImage'], Resource: arn('image'), Condition: { StringEquals: { 'ec2:ResourceTag/blockport-owner': own } } },
  ];
}
