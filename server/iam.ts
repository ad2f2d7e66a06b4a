// IAM for the credentials the emulator's Cognito issues: the roles' policies (deploy/blockport.json by default,
// --iam-policy FILE for another) evaluated for each EBS and EC2 call; a refusal in the service's own shape.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmuRequest, EmuResponse } from '../src/emulator/http.ts';
import { evaluateAll, IamPolicyError } from '../src/emulator/iam-evaluate.ts';
import { authorizationRequests, describeCall, type IamPrincipal, type IamTag } from '../src/emulator/iam-requests.ts';
import { rolePoliciesFrom, type RolePolicies } from '../src/emulator/iam-template.ts';
import { ebsErrorResponse, ec2ErrorResponse } from './aws-errors.ts';

/** The template whose Cognito roles are enforced when no --iam-policy is given. */
export const DEFAULT_IAM_POLICY = join(dirname(fileURLToPath(import.meta.url)), '..', 'deploy', 'blockport.json');

/** An --iam-policy file that cannot be used, as a sentence (the emulator exits 2 with it). */
export class IamPolicyFileError extends Error {
  override readonly name = 'IamPolicyFileError';
}

/** Reads the role policies from `file` ('off' = no enforcement); throws IamPolicyFileError when the file is unusable. */
export function loadRolePolicies(file: string | undefined, region: string, accountId: string): RolePolicies | undefined {
  if (file === 'off') return undefined;
  const path = file ?? DEFAULT_IAM_POLICY;
  const advice = 'give a CloudFormation template with Cognito roles or an IAM policy document, or --iam-policy off';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'may not be read' : `could not be read (${(err as Error).message})`;
    throw new IamPolicyFileError(`The IAM policy file ${path} ${why}: ${advice}.`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new IamPolicyFileError(`The IAM policy file ${path} is not JSON (${(err as Error).message}): ${advice}.`);
  }
  try {
    return rolePoliciesFrom(doc, { region, accountId });
  } catch (err) {
    throw new IamPolicyFileError(`The IAM policy file ${path} cannot be used: ${(err as Error).message} Instead, ${advice}.`);
  }
}

/**
 * Authorizes one EBS/EC2 call of a Cognito identity: undefined when allowed, else the refusal to send.
 * `tagsOf` gives the tags of each snapshot or image the call names (undefined: no such resource).
 */
export async function authorize(
  service: 'ebs' | 'ec2',
  req: EmuRequest,
  opts: { roles: RolePolicies; principal: IamPrincipal; region: string; accountId: string; tagsOf: (id: string) => Promise<IamTag[] | undefined> },
): Promise<EmuResponse | undefined> {
  const call = describeCall(service, req);
  // Requests that name no operation are refused by the service itself, as unknown.
  if (!call) return undefined;
  const ids = [...call.snapshotIds, ...(call.imageIds ?? []), ...(call.parentSnapshotId ? [call.parentSnapshotId] : [])];
  const tags = new Map<string, IamTag[] | undefined>();
  for (const id of ids) tags.set(id, await opts.tagsOf(id));
  const kind = opts.principal.authenticated ? 'authenticated' : 'unauthenticated';
  const reqs = authorizationRequests(call, { region: opts.region, principal: opts.principal, tagsOf: (id) => tags.get(id) });
  let decision;
  try {
    decision = evaluateAll(opts.roles[kind], reqs);
  } catch (err) {
    if (!(err instanceof IamPolicyError)) throw err;
    decision = { allowed: false, reason: 'implicit-deny' as const, refused: reqs[0] };
  }
  if (decision.allowed) return undefined;
  const refused = decision.refused ?? reqs[0]!;
  const who = `arn:aws:sts::${opts.accountId}:assumed-role/${opts.roles.names[kind]}/CognitoIdentityCredentials`;
  const why = decision.reason === 'explicit-deny' ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${refused.action} action`;
  const message = `User: ${who} is not authorized to perform: ${refused.action} on resource: ${refused.resource} ${why}`;
  if (service === 'ec2') return ec2ErrorResponse('UnauthorizedOperation', 403, `You are not authorized to perform this operation. ${message}`);
  return ebsErrorResponse('AccessDeniedException', 403, message);
}
