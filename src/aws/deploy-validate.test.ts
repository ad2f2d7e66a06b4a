// deploy/deploy.sh --validate: green on the template as it stands, exit 1 (with the problem named) on a broken one,
// whether or not cfn-lint is installed (the template check always runs; cfn-lint goes further when present).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations.
import { templateProblems } from '../../deploy/check-template.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const template = readFileSync(join(root, 'deploy', 'blockport.json'), 'utf8');
const hasCfnLint = spawnSync('sh', ['-c', 'command -v cfn-lint'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'blockport-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs deploy.sh --validate [file] without AWS credentials or region (CloudFormation's own check cannot run). */
function validate(file?: string, extra: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') };
  for (const k of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) delete env[k];
  Object.assign(env, extra);
  const r = spawnSync('sh', [join(root, 'deploy', 'deploy.sh'), '--validate', ...(file ? [file] : [])], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The template with one resource's Ref pointed at something that does not exist. */
function withDanglingRef(): string {
  const t = JSON.parse(template);
  const [name] = Object.entries(t.Resources as Record<string, { Type: string }>).find(([, r]) => r.Type === 'AWS::Cognito::IdentityPoolRoleAttachment')!;
  t.Resources[name].Properties.IdentityPoolId = { Ref: 'NoSuchPool' };
  return JSON.stringify(t, null, 2);
}

describe('deploy/deploy.sh --validate', () => {
  it('passes on deploy/blockport.json as it stands (exit 0): the template check, and cfn-lint when installed, even with AWS_REGION set empty', { timeout: 120_000 }, () => {
    // An exported but empty AWS_REGION made cfn-lint refuse the region '' before it looked at the template.
    const r = validate(undefined, { AWS_REGION: '' });
    expect(r.out).toContain('is a well-formed CloudFormation template');
    if (hasCfnLint) expect(r.out).toContain('cfn-lint: deploy/blockport.json is valid');
    expect(r.code, r.out).toBe(0);
  });

  it('exits 1 on a template with a Ref to nothing, naming the problem', { timeout: 120_000 }, () => {
    const file = join(dir, 'dangling.json');
    writeFileSync(file, withDanglingRef());
    const r = validate(file);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/Ref NoSuchPool names no resource, parameter or pseudo parameter/);
    expect(r.out).not.toMatch(/CloudFormation could not validate/);
  });

  it('exits 1 on a file that is not JSON, and on one that does not exist', { timeout: 120_000 }, () => {
    const file = join(dir, 'torn.json');
    writeFileSync(file, template.slice(0, 2000));
    const torn = validate(file);
    expect(torn.code, torn.out).toBe(1);
    expect(torn.out).toMatch(/it is not JSON/);
    const missing = validate(join(dir, 'absent.json'));
    expect(missing.code, missing.out).toBe(1);
    expect(missing.out).toMatch(/could not be read \(ENOENT\)/);
  });
});

describe.skipIf(!hasCfnLint)('deploy/deploy.sh --validate with cfn-lint installed', () => {
  it('exits 1 when cfn-lint finds what the template check does not (an unknown property)', { timeout: 120_000 }, () => {
    const t = JSON.parse(template);
    t.Resources.SiteBucket.Properties.Frobnicate = true;
    const file = join(dir, 'unknown-property.json');
    writeFileSync(file, JSON.stringify(t, null, 2));
    expect(templateProblems(JSON.stringify(t))).toEqual([]);
    const r = validate(file);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/Frobnicate/);
    expect(r.out).toMatch(/cfn-lint found problems in .*unknown-property\.json/);
  });
});

describe('the template check (what runs without cfn-lint)', () => {
  it('finds nothing wrong in deploy/blockport.json', () => {
    expect(templateProblems(template)).toEqual([]);
  });

  it('names dangling references, undeclared conditions, Fn::Sub variables and resources without a type', () => {
    const t = JSON.parse(template);
    t.Resources.Stray = { Properties: {} };
    t.Resources.Typed = { Type: 'AWS::S3::Bucket', Condition: 'Nowhere', Properties: { BucketName: { 'Fn::Sub': '${Missing}-${AWS::Region}-${!kept}' } } };
    t.Outputs.Broken = { Value: { 'Fn::GetAtt': ['Ghost', 'Arn'] } };
    t.Outputs.Chosen = { Value: { 'Fn::If': ['NoCondition', 'a', 'b'] } };
    const problems: string[] = templateProblems(JSON.stringify(t));
    expect(problems).toEqual(expect.arrayContaining([
      'resource Stray has no valid Type.',
      'resource Typed names the undeclared condition Nowhere.',
      'Resources.Typed.Properties.BucketName: Fn::Sub variable ${Missing} names nothing the template declares.',
      'Outputs.Broken.Value: Fn::GetAtt names Ghost, which is not a resource.',
      'Outputs.Chosen.Value: Fn::If names the undeclared condition NoCondition.',
    ]));
    expect(problems).toHaveLength(5);
    expect(templateProblems(withDanglingRef())).toEqual([expect.stringMatching(/Ref NoSuchPool names no resource/)]);
  });
});
