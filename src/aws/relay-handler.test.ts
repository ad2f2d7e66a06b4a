import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EBSClient, ListSnapshotBlocksCommand, PutSnapshotBlockCommand } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { verifySigV4 } from '../emulator/sigv4.ts';
import { awsClientConfig } from './aws-clients.ts';
import { relayRoutes, signedHost } from './relay-routes.ts';
import type { AwsSettings } from './settings.ts';

const creds = { accessKeyId: 'ASIARELAYTEST', secretAccessKey: 'relay-secret', sessionToken: 'relay-session' };
interface Seen {
  method: string;
  url: string;
  host: string | undefined;
  verified: boolean | string;
  /** The same check with the Host the browser sent (the relay's own): must fail. */
  verifiedAsSent: boolean;
}
const seen: Seen[] = [];
let server: Server;
let origin: string;

function body(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
  });
}

// A relay that does what CloudFront or the Vite proxy does (path rewrite, Host = the signed AWS host), then
// checks the signature as the service would, with the emulator's SigV4 verifier.
beforeAll(async () => {
  const routes = relayRoutes('http://unused.invalid:1', '/relay');
  server = createServer(async (req, res) => {
    const b = await body(req);
    const route = routes.find((r) => new RegExp(r.pattern).test(req.url!));
    const url = route ? route.rewrite(req.url!) : req.url!;
    const host = route?.host(req.headers.authorization as string | undefined);
    const [rawPath, rawQuery = ''] = url.split('?') as [string, string?];
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    if (host) headers.host = host;
    const v = await verifySigV4(
      { method: req.method!, rawPath, rawQuery, headers, body: b },
      { lookup: (id) => (id === creds.accessKeyId ? { secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken } : undefined), allowUnsignedPayload: true },
    );
    const asSent = await verifySigV4(
      { method: req.method!, rawPath, rawQuery, headers: { ...headers, host: String(req.headers.host) }, body: b },
      { lookup: () => ({ secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken }), allowUnsignedPayload: true },
    );
    seen.push({ method: req.method!, url: req.url!, host, verified: v.ok ? true : v.message, verifiedAsSent: asSent.ok });
    if (route?.service === 'ec2') {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end('<DescribeSnapshotsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><snapshotSet/></DescribeSnapshotsResponse>');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException:', 'x-amzn-requestid': 'r' });
    res.end(JSON.stringify({ Message: 'The snapshot does not exist.', Reason: 'SNAPSHOT_NOT_FOUND' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('relay signing', () => {
  const settings = (): AwsSettings => ({
    kind: 'aws',
    region: 'eu-west-1',
    identityPoolId: 'eu-west-1:00000000-0000-0000-0000-000000000000',
    endpoint: { mode: 'relay', basePath: '/relay' },
  });

  it('signs EBS requests for ebs.<region>.amazonaws.com and sends them to the page origin, where the signature verifies', async () => {
    const ebs = new EBSClient({ ...awsClientConfig('ebs', settings(), async () => creds, origin), maxAttempts: 1 });
    await expect(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: 'snap-0123456789abcdef0', MaxResults: 100 }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    await expect(
      ebs.send(
        new PutSnapshotBlockCommand({
          SnapshotId: 'snap-0123456789abcdef0',
          BlockIndex: 7,
          BlockData: new Uint8Array(524288).fill(1),
          DataLength: 524288,
          Checksum: 'x',
          ChecksumAlgorithm: 'SHA256',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const [list, put] = seen.splice(0);
    expect(list).toMatchObject({ method: 'GET', host: 'ebs.eu-west-1.amazonaws.com', verified: true });
    expect(list!.url).toMatch(/^\/relay\/snapshots\/snap-0123456789abcdef0\/blocks\?/);
    expect(put).toMatchObject({ method: 'PUT', url: '/relay/snapshots/snap-0123456789abcdef0/blocks/7', verified: true });
  });

  it('relays EC2 under /ec2, signed for ec2.<region>.amazonaws.com', async () => {
    const ec2 = new EC2Client({ ...awsClientConfig('ec2', settings(), async () => creds, origin), maxAttempts: 1 });
    const out = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5 }));
    expect(out.Snapshots).toEqual([]);
    const [d] = seen.splice(0);
    expect(d).toMatchObject({ method: 'POST', url: '/relay/ec2/', host: 'ec2.eu-west-1.amazonaws.com', verified: true });
  });

  it('without the Host rewrite the signature would not verify (the relay must restore the AWS host)', async () => {
    const ebs = new EBSClient({ ...awsClientConfig('ebs', settings(), async () => creds, origin), maxAttempts: 1 });
    await expect(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: 'snap-0123456789abcdef0', MaxResults: 100 }))).rejects.toThrow();
    const [list] = seen.splice(0);
    expect(list).toMatchObject({ verified: true, verifiedAsSent: false });
  });
});

describe('relay routes (the Vite proxy of npm run dev / preview)', () => {
  it('reads the signed host from the credential scope', () => {
    expect(signedHost('AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/ebs/aws4_request, SignedHeaders=host, Signature=1')).toBe('ebs.eu-west-1.amazonaws.com');
    expect(signedHost('AWS4-HMAC-SHA256 Credential=AKID/20260101/cn-north-1/ec2/aws4_request, SignedHeaders=host, Signature=1')).toBe('ec2.cn-north-1.amazonaws.com.cn');
    expect(signedHost(undefined)).toBeUndefined();
  });

  it('maps paths back to what was signed, for a URL target and for aws:<region>', () => {
    const [ebs, ec2, cognito] = relayRoutes('http://127.0.0.1:4566');
    expect(new RegExp(ebs!.pattern).test('/snapshots/snap-1/blocks/0')).toBe(true);
    expect(new RegExp(ebs!.pattern).test('/snapshotsX')).toBe(false);
    expect(ebs!.rewrite('/snapshots/snap-1/blocks?maxResults=100')).toBe('/snapshots/snap-1/blocks?maxResults=100');
    expect(ec2!.rewrite('/ec2/')).toBe('/');
    expect(ec2!.rewrite('/ec2')).toBe('/');
    expect(new RegExp(ec2!.pattern).test('/ec2x/')).toBe(false);
    expect(cognito!.rewrite('/cognito-identity/')).toBe('/');
    expect(ebs!.target).toBe('http://127.0.0.1:4566');
    const aws = relayRoutes('aws:eu-west-1', '/api');
    expect(aws.map((r) => r.target)).toEqual(['https://ebs.eu-west-1.amazonaws.com', 'https://ec2.eu-west-1.amazonaws.com', 'https://cognito-identity.eu-west-1.amazonaws.com']);
    expect(aws[0]!.rewrite('/api/snapshots')).toBe('/snapshots');
    expect(aws[0]!.changeOrigin).toBe(true);
    expect(() => relayRoutes('not a url')).toThrow();
  });
});
