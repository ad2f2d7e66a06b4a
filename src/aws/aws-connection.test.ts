import { describe, expect, it } from 'vitest';
import { awsConnectionForWorker, createAwsClients, publicAwsConnection, type AwsConnection } from './aws-connection.ts';
import { connectionForWorker, publicConnection } from './clients.ts';
import { openCredentialPorts } from './credential-bridge.ts';
import { RefreshingCredentials } from './refreshing-credentials.ts';

const settings = {
  kind: 'aws' as const,
  region: 'eu-west-1',
  identityPoolId: 'eu-west-1:00000000-0000-4000-a000-000000000000',
  endpoint: { mode: 'relay' as const, basePath: '' },
};

describe('AWS connection', () => {
  it('is stored without credentials, origin or anything else', () => {
    const c = { kind: 'aws', settings: { ...settings, loginToken: 'secret-login' }, origin: 'https://x', credentials: { accessKeyId: 'A', secretAccessKey: 'S' } } as AwsConnection;
    expect(publicAwsConnection(c)).toEqual({ kind: 'aws', settings });
    expect(JSON.stringify(publicConnection(c))).not.toMatch(/secret|"S"|"A"/);
  });

  it('reaches a worker as a structured-cloneable value whose credentials come from the main thread over a port', async () => {
    let issued = 0;
    const main = new RefreshingCredentials(async () => ({ accessKeyId: `AKID${++issued}`, secretAccessKey: 'shh', expiration: new Date(Date.now() + 3600_000) }));
    const { connection, transfer } = connectionForWorker({ kind: 'aws', settings, origin: 'https://site.example', credentials: main.provider });
    expect(transfer).toHaveLength(1);
    // What postMessage would do: clone, transferring the port.
    const inWorker = structuredClone(connection, { transfer }) as AwsConnection;
    const clients = createAwsClients(inWorker);
    const creds = await clients.ebs.config.credentials();
    expect(creds).toMatchObject({ accessKeyId: 'AKID1', secretAccessKey: 'shh' });
    const second = awsConnectionForWorker({ kind: 'aws', settings, origin: 'https://site.example', credentials: main.provider });
    const other = createAwsClients(structuredClone(second.connection, { transfer: second.transfer }) as AwsConnection);
    expect((await other.ebs.config.credentials()).accessKeyId).toBe('AKID1');
    expect(issued).toBe(1);
    (inWorker.credentials as MessagePort).close();
    (second.connection as AwsConnection & { credentials: MessagePort }).credentials.close();
  });

  it('closes each run\'s credential port when the run releases it, and only once', async () => {
    const main = new RefreshingCredentials(async () => ({ accessKeyId: 'AKID', secretAccessKey: 'shh', expiration: new Date(Date.now() + 3600_000) }));
    const before = openCredentialPorts();
    const runs = [0, 1, 2].map(() => connectionForWorker({ kind: 'aws', settings, origin: 'https://site.example', credentials: main.provider }));
    expect(openCredentialPorts()).toBe(before + 3);
    const inWorker = structuredClone(runs[0]!.connection, { transfer: runs[0]!.transfer }) as AwsConnection;
    expect((await createAwsClients(inWorker).ebs.config.credentials()).accessKeyId).toBe('AKID');
    for (const r of runs) r.release();
    runs[0]!.release();
    expect(openCredentialPorts()).toBe(before);
    // The worker's end is disentangled: a fresh ask goes unanswered instead of reaching a closed server.
    const worker = inWorker.credentials as MessagePort;
    const answered = await Promise.race([
      new Promise((r) => {
        worker.onmessage = () => r(true);
        worker.postMessage({ id: 'x', type: 'GET', path: [] });
      }),
      new Promise((r) => setTimeout(() => r(false), 200)),
    ]);
    expect(answered).toBe(false);
    worker.close();
  });

  it('leaves other connections untouched for workers', () => {
    const w = connectionForWorker({ kind: 'emulator' });
    expect({ connection: w.connection, transfer: w.transfer }).toEqual({ connection: { kind: 'emulator' }, transfer: [] });
    w.release();
  });
});
