// The EC2 query protocol subset for snapshots (DescribeSnapshots, DeleteSnapshot) and images, with EC2's XML shapes.
import { newRequestId, textBytes, type EmuRequest, type EmuResponse } from './http.ts';
import type { EbsModel, SnapshotView } from './model.ts';
import { globMatch } from './glob.ts';
import { IMAGE_ACTIONS } from './images-wire.ts';
import { ServiceRefusal } from './errors.ts';

export const XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** An EC2 error: code and message, answered as `<Response><Errors><Error>`. */
export class Ec2Error extends ServiceRefusal {
  override readonly name = 'Ec2Error';
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function xml(status: number, text: string): EmuResponse {
  return { status, headers: { 'Content-Type': 'text/xml;charset=UTF-8' }, body: textBytes(`<?xml version="1.0" encoding="UTF-8"?>\n${text}`) };
}

/** The EC2 error document. */
export function ec2ErrorResponse(err: unknown, requestId = newRequestId()): EmuResponse {
  const e = err instanceof Ec2Error ? err : new Ec2Error('InternalError', `An internal error has occurred: ${(err as Error)?.message ?? err}`, 500);
  return xml(
    e.status,
    `<Response><Errors><Error><Code>${esc(e.code)}</Code><Message>${esc(e.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
  );
}

/** Parameters of a query-protocol request: the query string and the form body (POST), each name given once. */
export function params(req: EmuRequest): Map<string, string> {
  const out = new Map<string, string>(Object.entries(req.query));
  if (req.body.length) {
    const seen = new Set<string>();
    for (const [k, v] of new URLSearchParams(new TextDecoder().decode(req.body))) {
      // The body must not override what the query string (perhaps a presigned URL) says, nor itself.
      if (k in req.query || seen.has(k)) {
        throw new Ec2Error('InvalidParameterCombination', `The parameter ${k} is given more than once (in the query string and the request body, or twice in the body); give it once.`);
      }
      seen.add(k);
      out.set(k, v);
    }
  }
  return out;
}

/** Values of `Prefix.1`, `Prefix.2`, … in numeric order. */
export function list(p: Map<string, string>, prefix: string): string[] {
  const found: [number, string][] = [];
  const head = `${prefix}.`;
  for (const [k, v] of p) {
    if (k.startsWith(head) && /^\d{1,9}$/.test(k.slice(head.length))) found.push([Number(k.slice(head.length)), v]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** EC2's limits on one request's filters: 50 filters, 200 values in each. */
export const MAX_FILTERS = 50;
export const MAX_FILTER_VALUES = 200;

/** The request's filters, read in one pass over the parameters; too many filters or values → FilterLimitExceeded. */
export function filters(p: Map<string, string>): { name: string; values: string[] }[] {
  const byNumber = new Map<string, { name?: string; values: [number, string][] }>();
  const entry = (n: string) => {
    let e = byNumber.get(n);
    if (!e) {
      if (byNumber.size >= MAX_FILTERS) {
        throw new Ec2Error('FilterLimitExceeded', `The request has more than ${MAX_FILTERS} filters; use at most ${MAX_FILTERS}.`);
      }
      e = { values: [] };
      byNumber.set(n, e);
    }
    return e;
  };
  for (const [k, v] of p) {
    const m = /^Filter\.(\d{1,9})\.(?:(Name)|Value\.(\d{1,9}))$/.exec(k);
    if (!m) continue;
    const e = entry(m[1]!);
    if (m[2]) e.name = v;
    else {
      e.values.push([Number(m[3]), v]);
      if (e.values.length > MAX_FILTER_VALUES) {
        throw new Ec2Error('FilterLimitExceeded', `Filter ${m[1]} has more than ${MAX_FILTER_VALUES} values; use at most ${MAX_FILTER_VALUES} per filter.`);
      }
    }
  }
  const out: { name: string; values: string[] }[] = [];
  for (const [n, e] of [...byNumber].sort((a, b) => Number(a[0]) - Number(b[0]))) {
    if (e.name === undefined) throw new Ec2Error('InvalidParameterValue', `Filter ${n} has values but no Filter.${n}.Name.`);
    out.push({ name: e.name, values: e.values.sort((a, b) => a[0] - b[0]).map(([, v]) => v) });
  }
  return out;
}

function snapshotItem(s: SnapshotView): string {
  const tags = s.tags.length
    ? `<tagSet>${s.tags.map((t) => `<item><key>${esc(t.key)}</key><value>${esc(t.value)}</value></item>`).join('')}</tagSet>`
    : '';
  return (
    '<item>' +
    `<snapshotId>${s.id}</snapshotId>` +
    '<volumeId>vol-ffffffff</volumeId>' +
    `<status>${s.state}</status>` +
    (s.stateMessage ? `<statusMessage>${esc(s.stateMessage)}</statusMessage>` : '') +
    `<startTime>${new Date(s.startTime).toISOString()}</startTime>` +
    `<progress>${s.progress}%</progress>` +
    `<ownerId>${s.ownerId}</ownerId>` +
    `<volumeSize>${s.volumeSize}</volumeSize>` +
    `<description>${esc(s.description ?? '')}</description>` +
    `<encrypted>${s.encrypted}</encrypted>` +
    (s.kmsKeyArn ? `<kmsKeyId>${esc(s.kmsKeyArn)}</kmsKeyId>` : '') +
    tags +
    '<storageTier>standard</storageTier>' +
    '</item>'
  );
}

const SNAP_RE = /^snap-[0-9a-f]+$/;

function matches(s: SnapshotView, f: { name: string; values: string[] }, accountId: string): boolean {
  const any = (v: string | null | undefined) => f.values.some((x) => globMatch(x, v ?? ''));
  switch (f.name) {
    case 'status':
      return any(s.state);
    case 'snapshot-id':
      return any(s.id);
    case 'owner-id':
      return any(s.ownerId) || (f.values.includes('self') && s.ownerId === accountId);
    case 'description':
      return any(s.description);
    case 'volume-id':
      return any('vol-ffffffff');
    case 'volume-size':
      return any(String(s.volumeSize));
    case 'encrypted':
      return any(String(s.encrypted));
    case 'progress':
      return any(`${s.progress}%`);
    case 'tag-key':
      return s.tags.some((t) => f.values.some((x) => globMatch(x, t.key)));
    default:
      if (f.name.startsWith('tag:')) {
        const key = f.name.slice(4);
        return s.tags.some((t) => t.key === key && f.values.some((x) => globMatch(x, t.value)));
      }
      throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
  }
}


async function describeSnapshots(model: EbsModel, p: Map<string, string>, requestId: string): Promise<EmuResponse> {
  const ids = list(p, 'SnapshotId');
  const owners = [...list(p, 'Owner'), ...list(p, 'OwnerId')];
  const accountId = model.config.accountId;
  for (const id of ids) if (!SNAP_RE.test(id)) throw new Ec2Error('InvalidSnapshotID.Malformed', `Invalid id: "${id}" (expecting "snap-...")`);
  const wanted = filters(p);
  let views = await model.listSnapshots();
  if (ids.length) {
    const byId = new Map(views.map((v) => [v.id, v]));
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length === 1) throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshot '${missing[0]}' does not exist.`);
    if (missing.length > 1) throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshots '${missing.join(', ')}' do not exist.`);
    views = [...new Set(ids)].map((id) => byId.get(id)!);
  }
  if (owners.length) views = views.filter((v) => owners.some((o) => o === v.ownerId || (o === 'self' && v.ownerId === accountId)));
  for (const f of wanted) views = views.filter((v) => matches(v, f, accountId));
  return xml(
    200,
    `<DescribeSnapshotsResponse xmlns="${XMLNS}"><requestId>${requestId}</requestId><snapshotSet>${views.map(snapshotItem).join('')}</snapshotSet></DescribeSnapshotsResponse>`,
  );
}

async function deleteSnapshot(model: EbsModel, p: Map<string, string>, requestId: string): Promise<EmuResponse> {
  const id = p.get('SnapshotId');
  if (!id) throw new Ec2Error('MissingParameter', 'The request must contain the parameter SnapshotId');
  if (!SNAP_RE.test(id)) throw new Ec2Error('InvalidSnapshotID.Malformed', `Invalid id: "${id}" (expecting "snap-...")`);
  if (!(await model.deleteSnapshot(id))) throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
  return xml(200, `<DeleteSnapshotResponse xmlns="${XMLNS}"><requestId>${requestId}</requestId><return>true</return></DeleteSnapshotResponse>`);
}

/** Handles one EC2 query-protocol request (DescribeSnapshots, DeleteSnapshot, the image actions; DryRun). Never throws. */
export async function handleEc2Request(model: EbsModel, req: EmuRequest): Promise<EmuResponse> {
  const requestId = newRequestId();
  try {
    const p = params(req);
    const action = p.get('Action');
    let res: EmuResponse;
    const known = action === 'DescribeSnapshots' || action === 'DeleteSnapshot' || (action !== undefined && action in IMAGE_ACTIONS);
    // As EC2: a dry run the caller may make (IAM, where enforced, has already let it through) changes nothing.
    if (known && /^true$/i.test(p.get('DryRun') ?? '')) throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
    if (action === 'DescribeSnapshots') res = await describeSnapshots(model, p, requestId);
    else if (action === 'DeleteSnapshot') res = await deleteSnapshot(model, p, requestId);
    else if (action && action in IMAGE_ACTIONS) res = await IMAGE_ACTIONS[action]!(model, p, requestId);
    else if (!action) throw new Ec2Error('MissingAction', 'The request must contain the parameter Action');
    else throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
    res.headers['x-amzn-RequestId'] = requestId;
    return res;
  } catch (err) {
    return ec2ErrorResponse(err, requestId);
  }
}
