// The identity policies of a CloudFormation template's Cognito roles, resolved for one region: what the emulator
// enforces for the credentials its Cognito issues. Pure: the caller reads the file.

import { policyProblem, type IamPolicy } from './iam-evaluate.ts';

/** The policies of the two Cognito roles. */
export interface RolePolicies {
  authenticated: IamPolicy[];
  unauthenticated: IamPolicy[];
  /** Role names, for the assumed-role ARN in refusals. */
  names: { authenticated: string; unauthenticated: string };
}

type Json = Record<string, unknown>;

/** Resolves Fn::Sub (with ${!x} escapes), Ref of pseudo parameters and Fn::Join for one region and account. */
export function resolveIntrinsics(v: unknown, env: { region: string; partition: string; accountId: string }): unknown {
  const pseudo: Record<string, string> = {
    'AWS::Region': env.region,
    'AWS::Partition': env.partition,
    'AWS::AccountId': env.accountId,
    'AWS::URLSuffix': env.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com',
  };
  if (Array.isArray(v)) return v.map((x) => resolveIntrinsics(x, env));
  if (!v || typeof v !== 'object') return v;
  const o = v as Json;
  if (typeof o['Fn::Sub'] === 'string') {
    return o['Fn::Sub'].replace(/\$\{(!?)([^}]+)\}/g, (all, bang: string, name: string) => (bang ? `\${${name}}` : (pseudo[name] ?? all)));
  }
  if (typeof o.Ref === 'string' && o.Ref in pseudo) return pseudo[o.Ref];
  if (Array.isArray(o['Fn::Join'])) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolveIntrinsics(p, env))).join(sep);
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolveIntrinsics(x, env)]));
}

/** Whether a role's trust policy is for Cognito identities with the given amr. */
function trusts(role: Json, amr: string): boolean {
  const doc = (role.Properties as Json | undefined)?.AssumeRolePolicyDocument as { Statement?: Json[] } | undefined;
  return JSON.stringify(doc?.Statement ?? []).includes(`"${amr}"`);
}

function rolePolicies(template: Json, roleName: string, env: { region: string; partition: string; accountId: string }): IamPolicy[] {
  const resources = (template.Resources ?? {}) as Record<string, Json>;
  const props = (resources[roleName]?.Properties ?? {}) as Json;
  const out: IamPolicy[] = [];
  for (const ref of (props.ManagedPolicyArns ?? []) as Json[]) {
    const name = typeof ref?.Ref === 'string' ? ref.Ref : undefined;
    const doc = name ? ((resources[name]?.Properties as Json | undefined)?.PolicyDocument as unknown) : undefined;
    if (doc) out.push(resolveIntrinsics(doc, env) as IamPolicy);
  }
  for (const p of (props.Policies ?? []) as Json[]) if (p?.PolicyDocument) out.push(resolveIntrinsics(p.PolicyDocument, env) as IamPolicy);
  for (const [, r] of Object.entries(resources)) {
    // AWS::IAM::Policy resources attached to the role by Ref.
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const rp = r.Properties as Json;
    if (((rp.Roles ?? []) as Json[]).some((x) => x?.Ref === roleName)) out.push(resolveIntrinsics(rp.PolicyDocument, env) as IamPolicy);
  }
  return out;
}

/**
 * The Cognito roles' policies from a template (roles found by their trust policy's amr), or from a bare policy
 * document (applied to both kinds of identity).
 */
export function rolePoliciesFrom(doc: unknown, env: { region: string; partition?: string; accountId: string }): RolePolicies {
  const e = { region: env.region, partition: env.partition ?? (env.region.startsWith('cn-') ? 'aws-cn' : 'aws'), accountId: env.accountId };
  const o = (doc ?? {}) as Json;
  if (o.Statement) {
    const p = resolveIntrinsics(o, e) as IamPolicy;
    return checked({ authenticated: [p], unauthenticated: [p], names: { authenticated: 'Authenticated', unauthenticated: 'Unauthenticated' } });
  }
  const resources = (o.Resources ?? {}) as Record<string, Json>;
  const roles = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');
  const auth = roles.find(([, r]) => trusts(r, 'authenticated') && !trusts(r, 'unauthenticated'))?.[0];
  const unauth = roles.find(([, r]) => trusts(r, 'unauthenticated'))?.[0];
  if (!auth && !unauth) throw new Error('it has neither a policy document (Statement) nor Cognito roles (AWS::IAM::Role trusting cognito-identity.amazonaws.com).');
  return checked({
    authenticated: auth ? rolePolicies(o, auth, e) : [],
    unauthenticated: unauth ? rolePolicies(o, unauth, e) : [],
    names: { authenticated: auth ?? 'Authenticated', unauthenticated: unauth ?? 'Unauthenticated' },
  });
}

/** Throws a sentence when a policy has a statement the evaluator cannot use. */
function checked(roles: RolePolicies): RolePolicies {
  for (const kind of ['authenticated', 'unauthenticated'] as const) {
    for (const p of roles[kind]) {
      const problem = policyProblem(p);
      if (problem) throw new Error(`in the ${roles.names[kind]} role's policy, ${problem}`);
    }
  }
  return roles;
}
