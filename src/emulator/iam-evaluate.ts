// IAM policy evaluation for the credentials the emulator's Cognito issues: pure, no I/O.
// Explicit Deny wins, then any Allow, else implicit deny; Action/Resource wildcards, the string, ARN and Null
// condition operators with IfExists and ForAllValues/ForAnyValue, and policy variables such as
// ${cognito-identity.amazonaws.com:sub}.

/** One statement of an IAM policy document. */
export interface IamStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

/** An IAM policy document. */
export interface IamPolicy {
  Version?: string;
  Statement: IamStatement | IamStatement[];
}

/** Values of the request context: a string, a list (aws:TagKeys) or absent. Keys are matched case-insensitively. */
export type IamContext = Record<string, string | string[] | undefined>;

/** One authorization question: may `action` be done on `resource` in this context? */
export interface IamRequest {
  action: string;
  resource: string;
  context: IamContext;
}

/** The answer, with the statement that decided it when there was one. */
export interface IamDecision {
  allowed: boolean;
  reason: 'allow' | 'explicit-deny' | 'implicit-deny';
  sid?: string;
}

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** Glob match with `*` (any run) and `?` (one character): greedy with one resume point, so at worst pattern × text steps. */
export function globMatch(pattern: string, text: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const t = ignoreCase ? text.toLowerCase() : text;
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

function lookup(ctx: IamContext, key: string): string | string[] | undefined {
  if (key in ctx) return ctx[key];
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(ctx)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Replaces ${key} policy variables from the context; undefined when one is missing (the statement cannot match). */
export function substitute(text: string, ctx: IamContext): string | undefined {
  let missing = false;
  const out = text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    if (name === '*' || name === '?' || name === '$') return name;
    const v = lookup(ctx, name);
    if (typeof v !== 'string') {
      missing = true;
      return '';
    }
    return v;
  });
  return missing ? undefined : out;
}

type Compare = (policyValue: string, requestValue: string) => boolean;

const COMPARE: Record<string, { cmp: Compare; negated: boolean }> = {
  StringEquals: { cmp: (p, r) => p === r, negated: false },
  StringNotEquals: { cmp: (p, r) => p === r, negated: true },
  StringEqualsIgnoreCase: { cmp: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { cmp: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: true },
  StringLike: { cmp: (p, r) => globMatch(p, r), negated: false },
  StringNotLike: { cmp: (p, r) => globMatch(p, r), negated: true },
  ArnEquals: { cmp: (p, r) => globMatch(p, r), negated: false },
  ArnLike: { cmp: (p, r) => globMatch(p, r), negated: false },
  ArnNotEquals: { cmp: (p, r) => globMatch(p, r), negated: true },
  ArnNotLike: { cmp: (p, r) => globMatch(p, r), negated: true },
  Bool: { cmp: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
};

/** Thrown for a policy the evaluator does not understand (an operator it lacks): refusing is safer than guessing. */
export class IamPolicyError extends Error {
  override readonly name = 'IamPolicyError';
}

/** What in a policy document the evaluator cannot use, as a sentence; undefined when it can evaluate every statement. */
export function policyProblem(policy: unknown): string | undefined {
  const statements = (policy as { Statement?: unknown } | null)?.Statement;
  if (statements === undefined) return 'a policy has no Statement.';
  const all = Array.isArray(statements) ? statements : [statements];
  for (const [i, s] of all.entries()) {
    const st = s as Partial<IamStatement> | null;
    const name = st?.Sid ? `statement ${st.Sid}` : `statement ${i + 1}`;
    if (!st || typeof st !== 'object') return `${name} is not an object.`;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') return `${name} has Effect ${JSON.stringify(st.Effect)}; it must be Allow or Deny.`;
    if (st.Action === undefined && st.NotAction === undefined) return `${name} has neither Action nor NotAction.`;
    if (st.Resource === undefined && st.NotResource === undefined) return `${name} has neither Resource nor NotResource.`;
    for (const op of Object.keys(st.Condition ?? {})) {
      const base = op.replace(/^(ForAllValues|ForAnyValue):/, '').replace(/IfExists$/, '');
      if (base !== 'Null' && !COMPARE[base]) return `${name} uses the condition operator ${op}, which the emulator's IAM evaluator does not support.`;
    }
  }
  return undefined;
}

function conditionHolds(op: string, key: string, values: unknown, ctx: IamContext): boolean {
  let set: 'all' | 'any' | undefined;
  let name = op;
  if (name.startsWith('ForAllValues:')) {
    set = 'all';
    name = name.slice('ForAllValues:'.length);
  } else if (name.startsWith('ForAnyValue:')) {
    set = 'any';
    name = name.slice('ForAnyValue:'.length);
  }
  const ifExists = name.endsWith('IfExists');
  if (ifExists) name = name.slice(0, -'IfExists'.length);
  const raw = lookup(ctx, key);
  if (name === 'Null') {
    const wantAbsent = list(values).some((v) => v.toLowerCase() === 'true');
    const absent = raw === undefined || (Array.isArray(raw) && raw.length === 0);
    return wantAbsent === absent;
  }
  const op2 = COMPARE[name];
  if (!op2) throw new IamPolicyError(`The condition operator ${op} is not supported by the emulator's IAM evaluator.`);
  const wanted: string[] = [];
  for (const v of list(values)) {
    const s = substitute(v, ctx);
    if (s !== undefined) wanted.push(s);
  }
  const got = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const matchesOne = (r: string): boolean => wanted.some((p) => op2.cmp(p, r));
  if (set === 'all') {
    // Every request value must match (vacuously true for none); a negated operator: none may match.
    return got.every((r) => (op2.negated ? !matchesOne(r) : matchesOne(r)));
  }
  if (set === 'any') {
    if (!got.length) return false;
    return got.some((r) => (op2.negated ? !matchesOne(r) : matchesOne(r)));
  }
  if (!got.length) return ifExists || op2.negated;
  return op2.negated ? !got.some(matchesOne) : got.some(matchesOne);
}

function statementApplies(s: IamStatement, req: IamRequest): boolean {
  const actionMatches = (patterns: string[]): boolean => patterns.some((p) => globMatch(p, req.action, true));
  if (s.Action !== undefined && !actionMatches(list(s.Action))) return false;
  if (s.NotAction !== undefined && actionMatches(list(s.NotAction))) return false;
  if (s.Action === undefined && s.NotAction === undefined) return false;
  const resourceMatches = (patterns: string[]): boolean =>
    patterns.some((p) => {
      const q = substitute(p, req.context);
      return q !== undefined && globMatch(q, req.resource);
    });
  if (s.Resource !== undefined && !resourceMatches(list(s.Resource))) return false;
  if (s.NotResource !== undefined && resourceMatches(list(s.NotResource))) return false;
  if (s.Resource === undefined && s.NotResource === undefined) return false;
  for (const [op, keys] of Object.entries(s.Condition ?? {})) {
    for (const [key, values] of Object.entries(keys)) if (!conditionHolds(op, key, values, req.context)) return false;
  }
  return true;
}

/** Evaluates one request against a set of identity policies. */
export function evaluate(policies: readonly IamPolicy[], req: IamRequest): IamDecision {
  let allow: IamStatement | undefined;
  for (const policy of policies) {
    for (const s of Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement]) {
      if (!statementApplies(s, req)) continue;
      if (s.Effect === 'Deny') return { allowed: false, reason: 'explicit-deny', ...(s.Sid ? { sid: s.Sid } : {}) };
      allow ??= s;
    }
  }
  return allow ? { allowed: true, reason: 'allow', ...(allow.Sid ? { sid: allow.Sid } : {}) } : { allowed: false, reason: 'implicit-deny' };
}

/** Evaluates several requests that one API call needs (every one must be allowed); the first refusal, or allow. */
export function evaluateAll(policies: readonly IamPolicy[], reqs: readonly IamRequest[]): IamDecision & { refused?: IamRequest } {
  let last: IamDecision = { allowed: false, reason: 'implicit-deny' };
  for (const r of reqs) {
    last = evaluate(policies, r);
    if (!last.allowed) return { ...last, refused: r };
  }
  return last;
}
