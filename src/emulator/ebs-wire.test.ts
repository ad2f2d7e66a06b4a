import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { handleEbsRequest } from './ebs-wire.ts';
import { handleEc2Request } from './ec2-wire.ts';
import { EbsModel } from './model.ts';
import { MemoryStore } from './stores/memory-store.ts';
import type { EmuRequest, EmuResponse } from './http.ts';

const BLOCK = 524288;
let now = Date.UTC(2026, 0, 1);
const model = new EbsModel({ store: new MemoryStore(), clock: () => now, completionDelayMs: 10 });
const enc = new TextEncoder();

function req(method: string, path: string, opts: { query?: Record<string, string>; headers?: Record<string, string>; body?: Uint8Array | string } = {}): EmuRequest {
  const body = typeof opts.body === 'string' ? enc.encode(opts.body) : (opts.body ?? new Uint8Array());
  return { method, path, query: opts.query ?? {}, headers: opts.headers ?? {}, body };
}
const text = (r: EmuResponse) => new TextDecoder().decode(r.body);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('base64');

async function started(): Promise<string> {
  const r = await handleEbsRequest(model, req('POST', '/snapshots', { body: JSON.stringify({ VolumeSize: 1 }) }));
  return (JSON.parse(text(r)) as { SnapshotId: string }).SnapshotId;
}

describe('EBS wire: byte-exact rest-json', () => {
  it('answers 201/201/202/200 with JSON numbers and a request id', async () => {
    const start = await handleEbsRequest(model, req('POST', '/snapshots', { body: '{"VolumeSize":1,"Description":"w"}' }));
    expect(start.status).toBe(201);
    expect(start.headers['x-amzn-RequestId']).toMatch(/^[0-9a-f-]{36}$/);
    expect(start.headers['Content-Type']).toBe('application/json');
    const s = JSON.parse(text(start));
    expect(typeof s.StartTime).toBe('number');
    expect(s).toMatchObject({ VolumeSize: 1, BlockSize: BLOCK, Status: 'pending', Description: 'w', ParentSnapshotId: null });
    const id = s.SnapshotId as string;
    const data = new Uint8Array(BLOCK).fill(9);
    const put = await handleEbsRequest(
      model,
      req('PUT', `/snapshots/${id}/blocks/0`, { headers: { 'x-amz-data-length': String(BLOCK), 'x-amz-checksum': sha(data), 'x-amz-checksum-algorithm': 'SHA256' }, body: data }),
    );
    expect(put.status).toBe(201);
    expect(text(put)).toBe('{}');
    expect(put.headers['x-amz-Checksum']).toBe(sha(data));
    expect(put.headers['x-amz-Checksum-Algorithm']).toBe('SHA256');
    const done = await handleEbsRequest(model, req('POST', `/snapshots/completion/${id}`, { headers: { 'x-amz-changedblockscount': '1' } }));
    expect(done.status).toBe(202);
    expect(text(done)).toBe('{"Status":"pending"}');
    now += 11;
    const list = await handleEbsRequest(model, req('GET', `/snapshots/${id}/blocks`, { query: { maxResults: '100' } }));
    expect(list.status).toBe(200);
    expect(text(list)).toMatch(/^\{"Blocks":\[\{"BlockIndex":0,"BlockToken":"[A-Za-z0-9+/=]+"\}\],"ExpiryTime":[0-9.]+,"VolumeSize":1,"BlockSize":524288,"NextToken":null\}$/);
    const token = JSON.parse(text(list)).Blocks[0].BlockToken as string;
    const get = await handleEbsRequest(model, req('GET', `/snapshots/${id}/blocks/0`, { query: { blockToken: token } }));
    expect(get.status).toBe(200);
    expect(get.headers['x-amz-Data-Length']).toBe(String(BLOCK));
    expect(get.headers['x-amz-Checksum']).toBe(sha(data));
    expect(Buffer.compare(get.body, data)).toBe(0);
  });

  it('uses the three error shapes', async () => {
    const id = await started();
    const v = await handleEbsRequest(model, req('PUT', `/snapshots/${id}/blocks/abc`, { headers: { 'x-amz-data-length': String(BLOCK), 'x-amz-checksum': 'AA==', 'x-amz-checksum-algorithm': 'SHA256' } }));
    expect(v.status).toBe(400);
    expect(v.headers['x-amzn-ErrorType']).toMatch(/^ValidationException:/);
    expect(Object.keys(JSON.parse(text(v)))).toEqual(['message']);
    expect(JSON.parse(text(v)).message).toBe("1 validation error detected: Value 'abc' at 'blockIndex' failed to satisfy constraint: Member must be an integer");
    const nf = await handleEbsRequest(model, req('GET', '/snapshots/snap-0123abc/blocks'));
    expect(nf.status).toBe(404);
    expect(nf.headers['x-amzn-ErrorType']).toMatch(/^ResourceNotFoundException:/);
    expect(JSON.parse(text(nf))).toEqual({ Message: "The snapshot 'snap-0123abc' does not exist.", Reason: 'SNAPSHOT_NOT_FOUND' });
    const data = new Uint8Array(BLOCK);
    const sig = await handleEbsRequest(
      model,
      req('PUT', `/snapshots/${id}/blocks/1`, { headers: { 'x-amz-data-length': String(BLOCK), 'x-amz-checksum': 'AAAA', 'x-amz-checksum-algorithm': 'SHA256' }, body: data }),
    );
    expect(sig.status).toBe(403);
    expect(sig.headers['x-amzn-ErrorType']).toMatch(/^InvalidSignatureException:/);
    expect(JSON.parse(text(sig))).toEqual({ message: `The value passed in as x-amz-Checksum does not match the computed checksum. Computed checksum: ${sha(data)} expected checksum: AAAA` });
    const body = JSON.stringify({ VolumeSize: 1, ClientToken: 'wire-1' });
    await handleEbsRequest(model, req('POST', '/snapshots', { body }));
    const conflict = await handleEbsRequest(model, req('POST', '/snapshots', { body: JSON.stringify({ VolumeSize: 2, ClientToken: 'wire-1' }) }));
    expect(conflict.status).toBe(409);
    expect(JSON.parse(text(conflict))).toEqual({ Message: 'Current request does not match request stored with this token.' });
  });

  it('never crashes on malformed requests', async () => {
    const id = await started();
    const cases: [EmuRequest, number, string][] = [
      [req('POST', '/snapshots', { body: '{not json' }), 400, 'SerializationException'],
      [req('POST', '/snapshots', { body: '{"VolumeSize":"8"}' }), 400, 'SerializationException'],
      [req('POST', '/snapshots', { body: '[1]' }), 400, 'SerializationException'],
      [req('POST', '/snapshots', { body: new Uint8Array([0xff, 0xfe]) }), 400, 'SerializationException'],
      [req('PUT', `/snapshots/${id}/blocks/0`), 400, 'ValidationException'],
      [req('PUT', `/snapshots/${id}/blocks/1.5`, { headers: { 'x-amz-data-length': 'x', 'x-amz-checksum': 'AA==', 'x-amz-checksum-algorithm': 'SHA256' } }), 400, 'ValidationException'],
      [req('PUT', `/snapshots/${id}/blocks/0`, { headers: { 'x-amz-data-length': String(BLOCK), 'x-amz-checksum': 'AA==', 'x-amz-checksum-algorithm': 'SHA256' }, body: 'short' }), 400, 'ValidationException'],
      [req('GET', `/snapshots/${id}/blocks/0`), 400, 'ValidationException'],
      [req('GET', `/snapshots/${id}/blocks`, { query: { maxResults: 'lots' } }), 400, 'ValidationException'],
      [req('GET', `/snapshots/${id}/blocks`, { query: { pageToken: '%%%' } }), 400, 'ValidationException'],
      [req('GET', '/snapshots/snap-%ZZ/blocks'), 400, 'ValidationException'],
      [req('POST', '/snapshots/completion/snap-1', { headers: { 'x-amz-changedblockscount': '-' } }), 400, 'ValidationException'],
      [req('DELETE', '/snapshots'), 404, 'UnknownOperationException'],
      [req('GET', '/'), 404, 'UnknownOperationException'],
    ];
    for (const [r, status, code] of cases) {
      const res = await handleEbsRequest(model, r);
      expect([r.method, r.path, res.status, res.headers['x-amzn-ErrorType']?.split(':')[0]]).toEqual([r.method, r.path, status, code]);
      expect(() => JSON.parse(text(res))).not.toThrow();
    }
  });

  it('turns an unexpected failure into 500 InternalServerException', async () => {
    const broken = new EbsModel({ store: new MemoryStore() });
    broken.store.getSnapshot = () => Promise.reject(new Error('disk on fire'));
    const res = await handleEbsRequest(broken, req('GET', '/snapshots/snap-01/blocks'));
    expect(res.status).toBe(500);
    expect(res.headers['x-amzn-ErrorType']).toMatch(/^InternalServerException:/);
    expect(JSON.parse(text(res)).Message).toContain('disk on fire');
  });
});

describe('EC2 wire: query protocol', () => {
  it('answers DescribeSnapshots in EC2 XML and errors as <Response><Errors>', async () => {
    const id = await started();
    const ok = await handleEc2Request(model, req('POST', '/', { body: `Action=DescribeSnapshots&Version=2016-11-15&SnapshotId.1=${id}` }));
    expect(ok.status).toBe(200);
    const xml = text(ok);
    expect(xml).toContain(`<snapshotId>${id}</snapshotId>`);
    expect(xml).toContain('<status>pending</status>');
    expect(xml).toContain('<volumeId>vol-ffffffff</volumeId>');
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeSnapshotsResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/"><requestId>/);
    const bad = await handleEc2Request(model, req('POST', '/', { body: 'Action=RunInstances' }));
    expect(bad.status).toBe(400);
    expect(text(bad)).toMatch(/<Response><Errors><Error><Code>InvalidAction<\/Code><Message>The action RunInstances is not valid for this web service.<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]+<\/RequestID><\/Response>$/);
    const missing = await handleEc2Request(model, req('POST', '/', { body: 'Action=DeleteSnapshot' }));
    expect(text(missing)).toContain('<Code>MissingParameter</Code>');
    const filt = await handleEc2Request(model, req('POST', '/', { body: 'Action=DescribeSnapshots&Filter.1.Name=bogus&Filter.1.Value.1=x' }));
    expect(text(filt)).toContain('<Code>InvalidParameterValue</Code>');
  });
});
