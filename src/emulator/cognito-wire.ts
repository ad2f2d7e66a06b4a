// Cognito Identity's JSON 1.1 wire: `X-Amz-Target: AWSCognitoIdentityService.<Op>` ⇄ CognitoService.

import { textBytes, newRequestId, type EmuRequest, type EmuResponse } from './http.ts';
import { CognitoError, type CognitoService } from './cognito.ts';

const TARGET_PREFIX = 'AWSCognitoIdentityService.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';

/** Operations callable without a signature (the SDK sends them unsigned). */
export const UNSIGNED_COGNITO_OPERATIONS: ReadonlySet<string> = new Set(['GetId', 'GetCredentialsForIdentity', 'GetOpenIdToken', 'UnlinkIdentity']);

/** The operation named by X-Amz-Target, or undefined when the request is not for Cognito Identity. */
export function cognitoOperation(req: Pick<EmuRequest, 'headers'>): string | undefined {
  const t = req.headers['x-amz-target'];
  return t?.startsWith(TARGET_PREFIX) ? t.slice(TARGET_PREFIX.length) : undefined;
}

/** A JSON 1.1 error response (`__type` + `message`, and x-amzn-ErrorType). */
export function cognitoErrorResponse(code: string, message: string, status = 400, requestId = newRequestId()): EmuResponse {
  return {
    status,
    headers: { 'Content-Type': CONTENT_TYPE, 'x-amzn-RequestId': requestId, 'x-amzn-ErrorType': `${code}:` },
    body: textBytes(JSON.stringify({ __type: code, message })),
  };
}

function ok(value: unknown, requestId: string): EmuResponse {
  return { status: 200, headers: { 'Content-Type': CONTENT_TYPE, 'x-amzn-RequestId': requestId }, body: textBytes(JSON.stringify(value)) };
}

/** Answers one Cognito Identity request; `region` comes from the signature scope when there is one. */
export async function handleCognitoRequest(service: CognitoService, req: EmuRequest, region?: string): Promise<EmuResponse> {
  const requestId = newRequestId();
  const op = cognitoOperation(req);
  if (req.method !== 'POST') return cognitoErrorResponse('UnknownOperationException', '', 404, requestId);
  if (!op) return cognitoErrorResponse('UnknownOperationException', '', 400, requestId);
  let input: unknown;
  try {
    input = req.body.length ? JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(req.body)) : {};
  } catch {
    return cognitoErrorResponse('SerializationException', 'Start of structure or map found where not expected.', 400, requestId);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return cognitoErrorResponse('SerializationException', 'Start of structure or map found where not expected.', 400, requestId);
  }
  const args = input as Record<string, unknown>;
  try {
    switch (op) {
      case 'CreateIdentityPool':
        return ok(await service.createIdentityPool(args, region), requestId);
      case 'DescribeIdentityPool':
        return ok(service.describeIdentityPool(args), requestId);
      case 'ListIdentityPools':
        return ok(service.listIdentityPools(args), requestId);
      case 'DeleteIdentityPool':
        return ok(service.deleteIdentityPool(args), requestId);
      case 'GetId':
        return ok(await service.getId(args), requestId);
      case 'GetCredentialsForIdentity':
        return ok(await service.getCredentialsForIdentityVerified(args), requestId);
      default:
        return cognitoErrorResponse('UnknownOperationException', '', 400, requestId);
    }
  } catch (err) {
    if (err instanceof CognitoError) return cognitoErrorResponse(err.code, err.message, err.status, requestId);
    return cognitoErrorResponse('InternalErrorException', 'An internal error occurred.', 500, requestId);
  }
}
