// What an EBS or EC2 call asks of IAM: its action(s), the snapshot ARNs it touches and the request's condition keys.
// Pure: the caller supplies each snapshot's tags (for aws:ResourceTag) and the principal (for policy variables).

import type { EmuRequest } from './http.ts';
import type { IamContext, IamRequest } from './iam-evaluate.ts';

/** A tag as the services carry it. */
export interface IamTag {
  key: string;
  value: string;
}

/** The parts of an EBS/EC2 call that authorization looks at. */
export interface IamCall {
  /** The API operation, e.g. `GetSnapshotBlock`. */
  operation: string;
  /** The IAM action, e.g. `ebs:GetSnapshotBlock`. */
  action: string;
  /** Snapshots the call acts on (two for ListChangedBlocks); empty for account-wide calls. */
  snapshotIds: string[];
  /** Tags given at creation (StartSnapshot, RegisterImage). */
  requestTags?: IamTag[];
  /** Images the call acts on (DeregisterImage). */
  imageIds?: string[];
  parentSnapshotId?: string;
  volumeSize?: number;
  description?: string;
}

/** Who is calling: a Cognito identity of a pool, authenticated (signed in) or not. */
export interface IamPrincipal {
  identityId: string;
  poolId: string;
  authenticated: boolean;
}

const decode = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** Reads the operation and its IAM-relevant parameters from a request; undefined when it names no operation. */
export function describeCall(service: 'ebs' | 'ec2', req: EmuRequest): IamCall | undefined {
  if (service === 'ec2') {
    const p = new Map<string, string>(Object.entries(req.query));
    if (req.body.length) for (const [k, v] of new URLSearchParams(new TextDecoder().decode(req.body))) p.set(k, v);
    const op = p.get('Action');
    if (!op) return undefined;
    if (op === 'RegisterImage') {
      const snapshotIds = [...p].filter(([k]) => /^BlockDeviceMapping\.\d+\.Ebs\.SnapshotId$/.test(k)).map(([, v]) => v);
      const requestTags: IamTag[] = [];
      for (const [k, v] of p) {
        const m = /^TagSpecification\.(\d+)\.Tag\.(\d+)\.Key$/.exec(k);
        if (m) requestTags.push({ key: v, value: p.get(`TagSpecification.${m[1]}.Tag.${m[2]}.Value`) ?? '' });
      }
      return { operation: op, action: 'ec2:RegisterImage', snapshotIds, requestTags };
    }
    if (op === 'DeregisterImage') {
      const image = p.get('ImageId');
      return { operation: op, action: 'ec2:DeregisterImage', snapshotIds: [], imageIds: image ? [image] : [] };
    }
    const id = p.get('SnapshotId');
    return { operation: op, action: `ec2:${op}`, snapshotIds: op === 'DeleteSnapshot' && id ? [id] : [] };
  }
  // Split exactly as the EBS wire routes (ebs-wire.ts), so what IAM authorizes is what the service then does.
  const parts = req.path.split('?')[0]!.split('/').filter((p, i) => i > 0 || p !== '').map(decode);
  if (parts[0] === '') parts.shift();
  if (parts.at(-1) === '' && parts.length > 1) parts.pop();
  const m = req.method.toUpperCase();
  if (parts[0] !== 'snapshots') return undefined;
  if (parts.length === 1 && m === 'POST') {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(new TextDecoder().decode(req.body) || '{}') as Record<string, unknown>;
    } catch {
      // The service answers a malformed body itself; authorization sees no parameters.
    }
    const tags = Array.isArray(body.Tags)
      ? (body.Tags as { Key?: unknown; Value?: unknown }[]).map((t) => ({ key: String(t?.Key ?? ''), value: String(t?.Value ?? '') }))
      : [];
    return {
      operation: 'StartSnapshot',
      action: 'ebs:StartSnapshot',
      snapshotIds: [],
      requestTags: tags,
      ...(typeof body.ParentSnapshotId === 'string' ? { parentSnapshotId: body.ParentSnapshotId } : {}),
      ...(typeof body.VolumeSize === 'number' ? { volumeSize: body.VolumeSize } : {}),
      ...(typeof body.Description === 'string' ? { description: body.Description } : {}),
    };
  }
  const one = (operation: string, id: string): IamCall => ({ operation, action: `ebs:${operation}`, snapshotIds: [id] });
  if (parts.length === 3 && parts[1] === 'completion' && m === 'POST') return one('CompleteSnapshot', parts[2]!);
  if (parts.length === 4 && parts[2] === 'blocks' && m === 'PUT') return one('PutSnapshotBlock', parts[1]!);
  if (parts.length === 4 && parts[2] === 'blocks' && m === 'GET') return one('GetSnapshotBlock', parts[1]!);
  if (parts.length === 3 && parts[2] === 'blocks' && m === 'GET') return one('ListSnapshotBlocks', parts[1]!);
  if (parts.length === 3 && parts[2] === 'changedblocks' && m === 'GET') {
    const first = req.query.firstSnapshotId;
    return { operation: 'ListChangedBlocks', action: 'ebs:ListChangedBlocks', snapshotIds: first ? [first, parts[1]!] : [parts[1]!] };
  }
  return undefined;
}

/** The ARN of a snapshot (EBS snapshots are EC2 resources with no account in the ARN). */
export function snapshotArn(id: string, region: string, partition = 'aws'): string {
  return `arn:${partition}:ec2:${region}::snapshot/${id}`;
}

/** The condition keys every request of this principal carries. */
export function principalContext(p: IamPrincipal, region: string): IamContext {
  return {
    'cognito-identity.amazonaws.com:sub': p.identityId,
    'cognito-identity.amazonaws.com:aud': p.poolId,
    'cognito-identity.amazonaws.com:amr': [p.authenticated ? 'authenticated' : 'unauthenticated'],
    'aws:RequestedRegion': region,
  };
}

function tagContext(prefix: 'aws:RequestTag/' | 'aws:ResourceTag/', tags: readonly IamTag[]): IamContext {
  const context: IamContext = Object.fromEntries(tags.map((t) => [`${prefix}${t.key}`, t.value]));
  // EC2 also names a resource's tags ec2:ResourceTag/<key>; policies may use either.
  if (prefix === 'aws:ResourceTag/') for (const t of tags) context[`ec2:ResourceTag/${t.key}`] = t.value;
  return context;
}

/**
 * The authorization requests one call needs, all of which must be allowed. StartSnapshot with a parent is
 * authorized on the parent snapshot (its tags as aws:ResourceTag, its ARN as ebs:ParentSnapshot); with tags it also
 * needs ec2:CreateTags with ec2:CreateAction = StartSnapshot, as the Service Authorization Reference lists.
 */
export function authorizationRequests(
  call: IamCall,
  opts: { region: string; partition?: string; principal: IamPrincipal; tagsOf: (snapshotId: string) => readonly IamTag[] | undefined },
): IamRequest[] {
  const partition = opts.partition ?? 'aws';
  const base = principalContext(opts.principal, opts.region);
  const arn = (id: string): string => snapshotArn(id, opts.region, partition);
  const resourceTags = (id: string): IamContext => tagContext('aws:ResourceTag/', opts.tagsOf(id) ?? []);
  if (call.action === 'ebs:StartSnapshot') {
    const tags = call.requestTags ?? [];
    const request: IamContext = { ...base, ...tagContext('aws:RequestTag/', tags), 'aws:TagKeys': tags.map((t) => t.key) };
    if (call.volumeSize !== undefined) request['ebs:VolumeSize'] = String(call.volumeSize);
    if (call.description !== undefined) request['ebs:Description'] = call.description;
    const out: IamRequest[] = [];
    if (call.parentSnapshotId !== undefined) {
      const parent = arn(call.parentSnapshotId);
      out.push({ action: call.action, resource: parent, context: { ...request, ...resourceTags(call.parentSnapshotId), 'ebs:ParentSnapshot': parent } });
    } else {
      out.push({ action: call.action, resource: arn('*'), context: request });
    }
    if (tags.length) out.push({ action: 'ec2:CreateTags', resource: arn('*'), context: { ...request, 'ec2:CreateAction': 'StartSnapshot' } });
    return out;
  }
  const image = (id: string): string => `arn:${partition}:ec2:${opts.region}::image/${id}`;
  if (call.action === 'ec2:RegisterImage') {
    // Allowed on each snapshot it maps (their tags) and on the new image (the tags it is given), as EC2 authorizes it.
    const tags = call.requestTags ?? [];
    const request: IamContext = { ...base, ...tagContext('aws:RequestTag/', tags), 'aws:TagKeys': tags.map((t) => t.key) };
    const out: IamRequest[] = call.snapshotIds.map((id) => ({ action: call.action, resource: arn(id), context: { ...base, ...resourceTags(id) } }));
    out.push({ action: call.action, resource: image('*'), context: request });
    if (tags.length) out.push({ action: 'ec2:CreateTags', resource: image('*'), context: { ...request, 'ec2:CreateAction': 'RegisterImage' } });
    return out;
  }
  if (call.imageIds?.length) return call.imageIds.map((id) => ({ action: call.action, resource: image(id), context: { ...base, ...resourceTags(id) } }));
  if (!call.snapshotIds.length) return [{ action: call.action, resource: '*', context: base }];
  return call.snapshotIds.map((id) => ({ action: call.action, resource: arn(id), context: { ...base, ...resourceTags(id) } }));
}
