// The least-privilege IAM policy Blockport needs; deploy/blockport.json carries the same statements.

/** The tag Blockport puts on every snapshot it starts; DeleteSnapshot is allowed only on snapshots carrying it. */
export const BLOCKPORT_TAG = { Key: 'created-by', Value: 'blockport' } as const;

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
  Condition?: Record<string, Record<string, string>>;
}

/** The policy for the Cognito roles, for a partition and region. */
export function blockportPolicy(region: string, partition = region.startsWith('cn-') ? 'aws-cn' : 'aws'): {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
} {
  const snapshots = `arn:${partition}:ec2:${region}::snapshot/*`;
  const tag = { [`aws:RequestTag/${BLOCKPORT_TAG.Key}`]: BLOCKPORT_TAG.Value };
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'StartOnlyTaggedSnapshots', Effect: 'Allow', Action: ['ebs:StartSnapshot'], Resource: snapshots, Condition: { StringEquals: tag } },
      { Sid: 'WriteAndReadBlocks', Effect: 'Allow', Action: EBS_ACTIONS.filter((a) => a !== 'ebs:StartSnapshot'), Resource: snapshots },
      { Sid: 'ReadSnapshotState', Effect: 'Allow', Action: ['ec2:DescribeSnapshots'], Resource: '*' },
      {
        Sid: 'DeleteOnlyBlockportSnapshots',
        Effect: 'Allow',
        Action: ['ec2:DeleteSnapshot'],
        Resource: snapshots,
        Condition: { StringEquals: { [`aws:ResourceTag/${BLOCKPORT_TAG.Key}`]: BLOCKPORT_TAG.Value } },
      },
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
    { Sid: 'TagImagesOnRegister', Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: arn('image'), Condition: { StringEquals: { 'ec2:CreateAction': 'RegisterImage' } } },
    // DescribeImages has no resource-level permissions in the Service Authorization Reference.
    { Sid: 'ReadImageState', Effect: 'Allow', Action: ['ec2:DescribeImages'], Resource: '*' },
    { Sid: 'DeregisterOwnImages', Effect: 'Allow', Action: ['ec2:DeregisterImage'], Resource: arn('image'), Condition: { StringEquals: { 'ec2:ResourceTag/blockport-owner': own } } },
  ];
}
