// The EBS rest-json protocol: HTTP request in, model call, HTTP response out, with the service's three error shapes.
import { EbsError, constraintError } from './errors.ts';
import { newRequestId, textBytes, type EmuRequest, type EmuResponse } from './http.ts';
import type { EbsModel, PageInput } from './model.ts';
import type { StoredTag } from './store.ts';

const SERVICE_NS = 'http://internal.amazon.com/coral/com.amazonaws.ebs/';
const VALIDATE_NS = 'http://internal.amazon.com/coral/com.amazon.coral.validate/';
const CORAL_NS = 'http://internal.amazon.com/coral/com.amazon.coral.service/';
const SNAPSHOT_ID = { min: 1, max: 64, pattern: '^snap-[0-9a-f]+$' };
const TOKEN = { max: 256, pattern: '^[A-Za-z0-9+/=]+$' };
const CHECKSUM = { max: 64, pattern: '^[A-Za-z0-9+/=]+$' };
const ALGORITHM = { max: 32, pattern: '^[A-Za-z0-9]+$', enum: ['SHA256'] };
const AGGREGATION = { max: 32, pattern: '^[A-Za-z0-9]+$', enum: ['LINEAR'] };
/** Services errors that carry no Reason member. */
const NO_REASON = new Set(['ConflictException', 'ConcurrentLimitExceededException', 'InternalServerException']);

interface StringRule {
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  required?: boolean;
}
interface IntRule {
  min?: number;
  max?: number;
  required?: boolean;
}

/** Collects constraint failures in member order, as Coral reports them ("N validation errors detected"). */
class Constraints {
  readonly failures: string[] = [];

  private fail(value: string | null, member: string, rule: string): void {
    const v = value === null ? 'null' : `'${value}'`;
    this.failures.push(`Value ${v} at '${member}' failed to satisfy constraint: Member must ${rule}`);
  }

  str(value: string | undefined, member: string, rule: StringRule): string | undefined {
    if (value === undefined) {
      if (rule.required) this.fail(null, member, 'not be null');
      return undefined;
    }
    const len = [...value].length;
    if (rule.max !== undefined && len > rule.max) this.fail(value, member, `have length less than or equal to ${rule.max}`);
    else if (rule.min !== undefined && len < rule.min) this.fail(value, member, `have length greater than or equal to ${rule.min}`);
    else if (rule.enum && !rule.enum.includes(value)) this.fail(value, member, `satisfy enum value set: [${rule.enum.join(', ')}]`);
    else if (rule.pattern && !new RegExp(rule.pattern).test(value)) {
      this.fail(value, member, `satisfy regular expression pattern: ${rule.pattern}`);
    }
    return value;
  }

  /** An integer member given as text (path label, header, query); non-numeric text fails too. */
  int(raw: string | undefined, member: string, rule: IntRule): number | undefined {
    if (raw === undefined) {
      if (rule.required) this.fail(null, member, 'not be null');
      return undefined;
    }
    if (!/^-?\d+$/.test(raw.trim())) {
      this.fail(raw, member, 'be an integer');
      return undefined;
    }
    return this.num(Number(raw.trim()), member, rule);
  }

  num(n: number | undefined, member: string, rule: IntRule): number | undefined {
    if (n === undefined) {
      if (rule.required) this.fail(null, member, 'not be null');
      return undefined;
    }
    if (rule.min !== undefined && n < rule.min) this.fail(String(n), member, `have value greater than or equal to ${rule.min}`);
    else if (rule.max !== undefined && n > rule.max) this.fail(String(n), member, `have value less than or equal to ${rule.max}`);
    return n;
  }

  tooMany(count: number, member: string, max: number): void {
    this.failures.push(`Value with ${count} elements at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
  }

  check(): void {
    if (this.failures.length) throw constraintError(this.failures);
  }
}

/** A body that is not the JSON the operation expects: Coral answers SerializationException. */
class SerializationError extends EbsError {
  constructor(message: string) {
    super('SerializationException', 400, message, undefined, 'validation');
  }
}

function decodeLabel(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Handles one EBS direct API request. Never throws: unexpected failures become 500 InternalServerException. */
export async function handleEbsRequest(model: EbsModel, req: EmuRequest): Promise<EmuResponse> {
  const requestId = newRequestId();
  try {
    const res = await route(model, req);
    res.headers['x-amzn-RequestId'] = requestId;
    return res;
  } catch (err) {
    return errorResponse(err, requestId);
  }
}

/** The wire form of an error: status, `x-amzn-ErrorType`, and one of the three body shapes. */
export function errorResponse(err: unknown, requestId: string = newRequestId()): EmuResponse {
  const e =
    err instanceof EbsError
      ? err
      : new EbsError('InternalServerException', 500, `Internal error: ${(err as Error)?.message ?? String(err)}`);
  let body: Record<string, string>;
  let ns = SERVICE_NS;
  if (e.shape === 'validation') {
    body = { message: e.message };
    ns = e.code === 'ValidationException' ? VALIDATE_NS : CORAL_NS;
  } else if (e.shape === 'signature') {
    body = { message: e.message };
    ns = CORAL_NS;
  } else {
    body = NO_REASON.has(e.code) || e.reason === undefined ? { Message: e.message } : { Message: e.message, Reason: e.reason };
  }
  return {
    status: e.status,
    headers: {
      'Content-Type': 'application/json',
      'x-amzn-ErrorType': `${e.code}:${ns}`,
      'x-amzn-RequestId': requestId,
    },
    body: textBytes(JSON.stringify(body)),
  };
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): EmuResponse {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: textBytes(JSON.stringify(value)) };
}

async function route(model: EbsModel, req: EmuRequest): Promise<EmuResponse> {
  const method = req.method.toUpperCase();
  const parts = req.path.split('?')[0]!.split('/').filter((p, i) => i > 0 || p !== '').map(decodeLabel);
  if (parts[0] === '') parts.shift();
  if (parts.at(-1) === '' && parts.length > 1) parts.pop();
  const h = req.headers;
  const q = req.query;

  if (parts[0] === 'snapshots') {
    if (parts.length === 1 && method === 'POST') return startSnapshot(model, req.body);
    if (parts.length === 3 && parts[1] === 'completion' && method === 'POST') {
      const c = new Constraints();
      const snapshotId = c.str(parts[2], 'snapshotId', { ...SNAPSHOT_ID, required: true })!;
      const changedBlocksCount = c.int(h['x-amz-changedblockscount'], 'changedBlocksCount', { min: 0, required: true });
      const checksum = c.str(h['x-amz-checksum'], 'checksum', CHECKSUM);
      const checksumAlgorithm = c.str(h['x-amz-checksum-algorithm'], 'checksumAlgorithm', ALGORITHM);
      const checksumAggregationMethod = c.str(h['x-amz-checksum-aggregation-method'], 'checksumAggregationMethod', AGGREGATION);
      c.check();
      const out = await model.completeSnapshot({
        snapshotId,
        changedBlocksCount: changedBlocksCount!,
        checksum,
        checksumAlgorithm,
        checksumAggregationMethod,
      });
      return json(202, out);
    }
    if (parts.length === 4 && parts[2] === 'blocks' && method === 'PUT') {
      const c = new Constraints();
      const snapshotId = c.str(parts[1], 'snapshotId', { ...SNAPSHOT_ID, required: true })!;
      const index = c.int(parts[3], 'blockIndex', { min: 0, required: true });
      const dataLength = c.int(h['x-amz-data-length'], 'dataLength', { required: true });
      const checksum = c.str(h['x-amz-checksum'], 'checksum', { ...CHECKSUM, required: true });
      const checksumAlgorithm = c.str(h['x-amz-checksum-algorithm'], 'checksumAlgorithm', { max: 32, pattern: '^[A-Za-z0-9]+$', required: true });
      const progress = c.int(h['x-amz-progress'], 'progress', { min: 0, max: 100 });
      c.check();
      const out = await model.putSnapshotBlock({
        snapshotId,
        index: index!,
        data: req.body,
        dataLength: dataLength!,
        checksum: checksum!,
        checksumAlgorithm: checksumAlgorithm!,
        progress,
        contentEncoding: h['content-encoding'],
      });
      return json(201, {}, { 'x-amz-Checksum': out.checksum, 'x-amz-Checksum-Algorithm': out.checksumAlgorithm });
    }
    if (parts.length === 4 && parts[2] === 'blocks' && method === 'GET') {
      const c = new Constraints();
      const snapshotId = c.str(parts[1], 'snapshotId', { ...SNAPSHOT_ID, required: true })!;
      const index = c.int(parts[3], 'blockIndex', { min: 0, required: true });
      const blockToken = c.str(q['blockToken'], 'blockToken', { ...TOKEN, required: true });
      c.check();
      const out = await model.getSnapshotBlock(snapshotId, index!, blockToken!);
      return {
        status: 200,
        headers: {
          'Content-Type': 'application/octet-stream',
          'x-amz-Data-Length': String(out.dataLength),
          'x-amz-Checksum': out.checksum,
          'x-amz-Checksum-Algorithm': out.checksumAlgorithm,
        },
        body: out.data,
      };
    }
    if (parts.length === 3 && parts[2] === 'blocks' && method === 'GET') {
      const c = new Constraints();
      const snapshotId = c.str(parts[1], 'snapshotId', { ...SNAPSHOT_ID, required: true })!;
      const page = pageInput(c, q);
      c.check();
      return json(200, await model.listSnapshotBlocks(snapshotId, page));
    }
    if (parts.length === 3 && parts[2] === 'changedblocks' && method === 'GET') {
      const c = new Constraints();
      const first = c.str(q['firstSnapshotId'], 'firstSnapshotId', SNAPSHOT_ID);
      const second = c.str(parts[1], 'secondSnapshotId', { ...SNAPSHOT_ID, required: true })!;
      const page = pageInput(c, q);
      c.check();
      return json(200, await model.listChangedBlocks(first, second, page));
    }
  }
  throw new EbsError('UnknownOperationException', 404, `No EBS direct API operation matches ${method} ${req.path}.`, undefined, 'validation');
}

function pageInput(c: Constraints, q: Record<string, string>): PageInput {
  return {
    nextToken: c.str(q['pageToken'], 'nextToken', TOKEN),
    maxResults: c.int(q['maxResults'], 'maxResults', { min: 100, max: 10000 }),
    startingBlockIndex: c.int(q['startingBlockIndex'], 'startingBlockIndex', { min: 0 }),
  };
}

async function startSnapshot(model: EbsModel, body: Uint8Array): Promise<EmuResponse> {
  let input: Record<string, unknown>;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    input = text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    throw new SerializationError('The request body is not valid JSON. Send a JSON object with at least VolumeSize.');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new SerializationError('The request body must be a JSON object.');
  }
  const typed = <T>(name: string, kind: 'string' | 'number' | 'boolean' | 'array'): T | undefined => {
    const v = input[name];
    if (v === undefined || v === null) return undefined;
    const ok = kind === 'array' ? Array.isArray(v) : typeof v === kind && (kind !== 'number' || Number.isInteger(v));
    if (!ok) throw new SerializationError(`${name} must be ${kind === 'number' ? 'an integer' : `a ${kind}`}.`);
    return v as T;
  };
  const c = new Constraints();
  const volumeSize = c.num(typed<number>('VolumeSize', 'number'), 'volumeSize', { min: 1, max: 65536, required: true });
  const parentSnapshotId = c.str(typed<string>('ParentSnapshotId', 'string'), 'parentSnapshotId', SNAPSHOT_ID);
  const rawTags = typed<unknown[]>('Tags', 'array');
  let tags: StoredTag[] | undefined;
  if (rawTags) {
    if (rawTags.length > 50) c.tooMany(rawTags.length, 'tags', 50);
    tags = rawTags.map((t, i) => {
      const o = (t ?? {}) as Record<string, unknown>;
      if (typeof o !== 'object' || (o.Key !== undefined && typeof o.Key !== 'string') || (o.Value !== undefined && typeof o.Value !== 'string')) {
        throw new SerializationError('Each tag must be an object with string Key and Value.');
      }
      const key = c.str(o.Key as string | undefined, `tags.${i + 1}.member.key`, { max: 127, pattern: '^[\\S\\s]+$' });
      const value = c.str(o.Value as string | undefined, `tags.${i + 1}.member.value`, { max: 255, pattern: '^[\\S\\s]*$' });
      return { key: key ?? '', value: value ?? '' };
    });
  }
  const description = c.str(typed<string>('Description', 'string'), 'description', { max: 255, pattern: '^[\\S\\s]+$' });
  const clientToken = c.str(typed<string>('ClientToken', 'string'), 'clientToken', { max: 255, pattern: '^[\\S]+$' });
  const encrypted = typed<boolean>('Encrypted', 'boolean');
  const kmsKeyArn = c.str(typed<string>('KmsKeyArn', 'string'), 'kmsKeyArn', {
    min: 1,
    max: 2048,
    pattern: 'arn:aws[a-z\\-]*:kms:.*:[0-9]{12}:key/.*',
  });
  const timeout = c.num(typed<number>('Timeout', 'number'), 'timeout', { min: 10, max: 4320 });
  c.check();
  const out = await model.startSnapshot({
    volumeSize: volumeSize!,
    parentSnapshotId,
    tags,
    description,
    clientToken,
    encrypted,
    kmsKeyArn,
    timeout,
  });
  return json(201, out);
}
