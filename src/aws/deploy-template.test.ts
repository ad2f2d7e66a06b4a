import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { blockportPolicy, EBS_ACTIONS, IDENTITY_VARIABLE, OWNER_TAG_KEY } from './iam-policy.ts';
import { RELAY_PREFIX } from './endpoints.ts';

const path = fileURLToPath(new URL('../../deploy/blockport.json', import.meta.url));
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const t: Json = JSON.parse(readFileSync(path, 'utf8'));
const R: Json = t.Resources;
const dist: Json = R.Distribution.Properties.DistributionConfig;
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

/** Resolves the Fn::Sub strings of the template for one region, the way CloudFormation would. */
function sub(v: unknown, region: string): unknown {
  if (Array.isArray(v)) return v.map((x) => sub(x, region));
  if (v && typeof v === 'object') {
    const o = v as Json;
    if (typeof o['Fn::Sub'] === 'string') {
      return o['Fn::Sub'].replaceAll('${AWS::Partition}', 'aws').replaceAll('${AWS::Region}', region).replaceAll('${AWS::URLSuffix}', 'amazonaws.com');
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, sub(x, region)]));
  }
  return v;
}

describe('deploy/blockport.json', () => {
  it('is a CloudFormation template whose references all resolve', () => {
    expect(t.AWSTemplateFormatVersion).toBe('2010-09-09');
    const names = new Set([...Object.keys(R), ...Object.keys(t.Parameters ?? {}), 'AWS::Region', 'AWS::Partition', 'AWS::AccountId', 'AWS::StackName', 'AWS::URLSuffix', 'AWS::NoValue']);
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (!v || typeof v !== 'object') return;
      const o = v as Json;
      if (typeof o.Ref === 'string') refs.push(o.Ref);
      if (Array.isArray(o['Fn::GetAtt'])) refs.push(o['Fn::GetAtt'][0]);
      if (typeof o['Fn::Sub'] === 'string') for (const m of o['Fn::Sub'].matchAll(/\$\{([\w:]+)(\.\w+)?\}/g)) refs.push(m[1]!);
      Object.values(o).forEach(walk);
    };
    walk(R);
    walk(t.Outputs);
    expect(refs.filter((r) => !names.has(r))).toEqual([]);
    expect(Object.keys(t.Outputs)).toEqual(expect.arrayContaining(['SiteUrl', 'SiteBucketName', 'DistributionId', 'IdentityPoolId', 'Region']));
  });

  it('relays /snapshots*, /ec2/* and /cognito-identity/* to the services of the stack region, uncached, with all viewer headers but Host', () => {
    const origins = Object.fromEntries(dist.Origins.map((o: Json) => [o.Id, o]));
    for (const [region, host] of [['eu-west-1', 'ebs.eu-west-1.amazonaws.com'], ['us-east-2', 'ebs.us-east-2.amazonaws.com']] as const) {
      expect(sub(origins.ebs.DomainName, region)).toBe(host);
      expect(sub(origins.ec2.DomainName, region)).toBe(`ec2.${region}.amazonaws.com`);
      expect(sub(origins['cognito-identity'].DomainName, region)).toBe(`cognito-identity.${region}.amazonaws.com`);
    }
    for (const id of ['ebs', 'ec2', 'cognito-identity']) expect(origins[id].CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');

    const byPath = Object.fromEntries(dist.CacheBehaviors.map((b: Json) => [b.PathPattern, b]));
    const expected = { '/snapshots*': 'ebs', '/ec2/*': 'ec2', '/cognito-identity/*': 'cognito-identity' };
    expect(Object.keys(byPath).sort()).toEqual(Object.keys(expected).sort());
    for (const [pattern, origin] of Object.entries(expected)) {
      const b = byPath[pattern];
      expect(b.TargetOriginId).toBe(origin);
      expect(b.CachePolicyId).toBe(CACHING_DISABLED);
      expect(b.OriginRequestPolicyId).toBe(ALL_VIEWER_EXCEPT_HOST);
      expect(b.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'HEAD', 'PUT', 'POST', 'OPTIONS']));
      expect(b.ViewerProtocolPolicy).toBe('https-only');
    }
    // The app's relay prefixes are the template's path patterns.
    expect(`${RELAY_PREFIX.ec2}/*`).toBe('/ec2/*');
    expect(`${RELAY_PREFIX['cognito-identity']}/*`).toBe('/cognito-identity/*');
    expect(byPath['/snapshots*'].FunctionAssociations).toBeUndefined();
    // The site itself is the default behaviour, from the private bucket through origin access control.
    expect(dist.DefaultCacheBehavior.TargetOriginId).toBe('site');
    expect(origins.site.OriginAccessControlId).toBeDefined();
    expect(R.SiteBucket.Properties.PublicAccessBlockConfiguration.RestrictPublicBuckets).toBe(true);
  });

  it('strips the relay prefix so EC2 and Cognito see the path the request was signed for', () => {
    const fn = R.RelayPrefixFunction.Properties;
    const handler = new Function(`${fn.FunctionCode}; return handler;`)() as (e: { request: { uri: string } }) => { uri: string };
    expect(handler({ request: { uri: '/ec2/' } }).uri).toBe('/');
    expect(handler({ request: { uri: '/ec2' } }).uri).toBe('/');
    expect(handler({ request: { uri: '/cognito-identity/' } }).uri).toBe('/');
    expect(handler({ request: { uri: '/ec2x/' } }).uri).toBe('/ec2x/');
    const byPath = Object.fromEntries(dist.CacheBehaviors.map((b: Json) => [b.PathPattern, b]));
    for (const p of ['/ec2/*', '/cognito-identity/*']) {
      expect(byPath[p].FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': ['RelayPrefixFunction', 'FunctionARN'] } }]);
    }
  });

  it('grants the roles exactly the policy the app shows for AccessDenied: per person, by the owner tag', () => {
    const doc = sub(R.BlockportPolicy.Properties.PolicyDocument, 'eu-west-1') as Json;
    expect(doc).toEqual(blockportPolicy('eu-west-1'));
    const actions = doc.Statement.flatMap((s: Json) => s.Action);
    expect([...new Set(actions)].sort()).toEqual([...EBS_ACTIONS, 'ec2:DescribeSnapshots', 'ec2:DeleteSnapshot', 'ec2:CreateTags', 'ec2:RegisterImage', 'ec2:DescribeImages', 'ec2:DeregisterImage'].sort());
    // Only DescribeSnapshots and DescribeImages (no resource-level permissions in EC2) go without the owner condition.
    for (const s of doc.Statement as Json[]) {
      if (s.Action.includes('ec2:DescribeSnapshots') || s.Action.includes('ec2:DescribeImages')) continue;
      expect(JSON.stringify(s.Condition)).toContain(`${OWNER_TAG_KEY}":"${IDENTITY_VARIABLE}`);
    }
    expect(doc.Statement.every((s: Json) => s.Effect === 'Allow' && !String(s.Action).includes('*'))).toBe(true);
    for (const role of ['AuthenticatedRole', 'UnauthenticatedRole']) {
      expect(R[role].Properties.ManagedPolicyArns).toEqual([{ Ref: 'BlockportPolicy' }]);
      const trust = R[role].Properties.AssumeRolePolicyDocument.Statement[0];
      expect(trust.Principal.Federated).toBe('cognito-identity.amazonaws.com');
      expect(trust.Condition.StringEquals['cognito-identity.amazonaws.com:aud']).toEqual({ Ref: 'IdentityPool' });
    }
    expect(R.IdentityPool.Type).toBe('AWS::Cognito::IdentityPool');
    expect(R.IdentityPoolRoles.Properties.Roles.authenticated).toEqual({ 'Fn::GetAtt': ['AuthenticatedRole', 'Arn'] });
  });

  it('turns unauthenticated identities off by default and signs people in through its own user pool (public client, code flow)', () => {
    expect(t.Parameters.AllowUnauthenticatedIdentities.Default).toBe('false');
    const client = R.UserPoolClient.Properties;
    expect(client.GenerateSecret).toBe(false);
    expect(client.AllowedOAuthFlows).toEqual(['code']);
    expect(client.AllowedOAuthScopes).toContain('openid');
    expect(client.CallbackURLs).toEqual([{ 'Fn::Sub': 'https://${Distribution.DomainName}/' }]);
    expect(R.UserPoolDomain.Properties.UserPoolId).toEqual({ Ref: 'UserPool' });
    expect(R.IdentityPool.Properties.CognitoIdentityProviders).toEqual([
      { ClientId: { Ref: 'UserPoolClient' }, ProviderName: { 'Fn::GetAtt': ['UserPool', 'ProviderName'] }, ServerSideTokenCheck: true },
    ]);
    expect(Object.keys(t.Outputs)).toEqual(expect.arrayContaining(['SignInIssuer', 'SignInClientId', 'SignInDomain', 'UserPoolId']));
    const csp = R.SiteHeadersPolicy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy;
    expect(csp).toContain('https://*.amazoncognito.com');
  });
});
