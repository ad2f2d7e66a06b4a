import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fetchDeployedSettings, loadSettings, parseSettings, saveSettings, SETTINGS_KEY, settingsProblems, type AwsSettings } from './settings.ts';

const aws: AwsSettings = {
  kind: 'aws',
  region: 'eu-west-1',
  identityPoolId: 'eu-west-1:0f0e0d0c-1111-2222-3333-444455556666',
  endpoint: { mode: 'relay', basePath: '' },
};

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
}

describe('connection settings', () => {
  it('defaults to the in-browser emulator, then to the deployed config, then to what was saved', () => {
    const s = memoryStorage();
    expect(loadSettings(s)).toEqual({ kind: 'emulator' });
    expect(loadSettings(s, aws)).toEqual(aws);
    saveSettings(s, { ...aws, endpoint: { mode: 'custom', url: 'http://127.0.0.1:4566' } });
    expect(loadSettings(s, aws)).toEqual({ ...aws, endpoint: { mode: 'custom', url: 'http://127.0.0.1:4566' } });
  });

  it('keeps the in-browser emulator\'s encryption-by-default setting, and nothing else it does not know', () => {
    const s = memoryStorage();
    saveSettings(s, { kind: 'emulator', encryptionByDefault: true });
    expect(loadSettings(s)).toEqual({ kind: 'emulator', encryptionByDefault: true });
    expect(parseSettings(JSON.stringify({ kind: 'emulator', encryptionByDefault: 'yes', extra: 1 }))).toEqual({ kind: 'emulator' });
  });

  it('stores no secret even when the value carries one', () => {
    const s = memoryStorage();
    const leaky = {
      ...aws,
      loginProvider: 'accounts.google.com',
      loginToken: 'eyJhbGciOi.secret-token',
      credentials: { accessKeyId: 'ASIAXXXX', secretAccessKey: 'SECRET', sessionToken: 'SESSION' },
    } as AwsSettings;
    saveSettings(s, leaky);
    const stored = s.m.get(SETTINGS_KEY)!;
    expect(stored).not.toMatch(/secret-token|ASIAXXXX|SECRET|SESSION/);
    expect(JSON.parse(stored)).toEqual({ ...aws, loginProvider: 'accounts.google.com' });
  });

  it('explains each unusable field in a sentence, and refuses to store them', () => {
    const bad: AwsSettings = { kind: 'aws', region: 'Ireland', identityPoolId: 'nope', endpoint: { mode: 'custom', url: 'ftp://x' } };
    const p = settingsProblems(bad);
    expect(p).toHaveLength(3);
    expect(p[0]).toMatch(/not an AWS region name/);
    expect(p[1]).toMatch(/not a Cognito identity pool id/);
    expect(p[2]).toMatch(/not an http\(s\) URL/);
    expect(settingsProblems({ ...aws, identityPoolId: 'us-east-1:0f0e0d0c-1111-2222-3333-444455556666' })[0]).toMatch(/belongs to us-east-1, not eu-west-1/);
    expect(settingsProblems({ ...aws, endpoint: { mode: 'relay', basePath: 'api/' } })[0]).toMatch(/must start with \//);
    expect(() => saveSettings(memoryStorage(), bad)).toThrow(/not an AWS region name/);
  });

  it('ignores stored values that are not settings', () => {
    expect(parseSettings('{')).toBeUndefined();
    expect(parseSettings('{"kind":"aws","region":"eu-west-1"}')).toBeUndefined();
    expect(parseSettings(JSON.stringify({ ...aws, endpoint: { mode: 'teleport' } }))).toBeUndefined();
    expect(parseSettings(JSON.stringify(aws))).toEqual(aws);
  });
});

describe('deployed defaults (blockport-config.json written by deploy/deploy.sh)', () => {
  const served = (body: string, type: string, status = 200) => (async () => new Response(body, { status, headers: { 'content-type': type } })) as unknown as typeof fetch;

  it('reads the file the deploy script writes', async () => {
    // The very printf line of deploy/deploy.sh, run by sh with the stack's outputs.
    const script = readFileSync(fileURLToPath(new URL('../../deploy/deploy.sh', import.meta.url)), 'utf8');
    const line = /^printf .*blockport-config\.json$/m.exec(script)![0].replace(/\s*>\s*dist\/blockport-config\.json$/, '');
    const signIn = { issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123', clientId: '4abc5def6ghi' };
    const env = { ...process.env, REGION: 'eu-west-1', POOL: aws.identityPoolId, ISSUER: signIn.issuer, CLIENT: signIn.clientId };
    const written = execFileSync('sh', ['-c', line], { env, encoding: 'utf8' });
    expect(await fetchDeployedSettings('https://d1.cloudfront.net/', served(written, 'application/json'))).toEqual({ ...aws, signIn });
  });

  it('ignores a dev server answering with index.html, a 404, or a broken file', async () => {
    expect(await fetchDeployedSettings('http://localhost:5173/', served('<!doctype html>', 'text/html'))).toBeUndefined();
    expect(await fetchDeployedSettings('http://localhost:5173/', served('nope', 'application/json', 404))).toBeUndefined();
    expect(await fetchDeployedSettings('http://localhost:5173/', served('{"kind":"aws"', 'application/json'))).toBeUndefined();
  });
});
