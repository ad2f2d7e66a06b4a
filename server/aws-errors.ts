// Error responses the server produces itself (authentication, faults, routing), in each protocol's wire shape.

import { newRequestId, type EmuResponse } from '../src/emulator/http.ts';
import { EbsError } from '../src/emulator/errors.ts';
import { errorResponse } from '../src/emulator/ebs-wire.ts';
import { Ec2Error, ec2ErrorResponse as ec2Error } from '../src/emulator/ec2-wire.ts';
import { cognitoErrorResponse } from '../src/emulator/cognito-wire.ts';
import type { SigV4FailureCode } from '../src/emulator/sigv4.ts';

/** The services the server speaks. */
export type ServiceName = 'ebs' | 'ec2' | 'cognito';

/** An EBS (rest-json) error, through the shared wire's serialiser: `Message` + `Reason` with a reason, else `message`. */
export function ebsErrorResponse(code: string, status: number, message: string, reason?: string, requestId = newRequestId()): EmuResponse {
  return errorResponse(new EbsError(code, status, message, reason, reason ? 'service' : 'signature'), requestId);
}

/** An EC2 (Query/XML) error through the shared wire's serialiser. */
export function ec2ErrorResponse(code: string, status: number, message: string, requestId = newRequestId()): EmuResponse {
  const r = ec2Error(new Ec2Error(code, message, status), requestId);
  r.headers['x-amzn-RequestId'] = requestId;
  return r;
}

const EBS_AUTH: Record<SigV4FailureCode, string> = {
  MissingAuthenticationToken: 'MissingAuthenticationTokenException',
  IncompleteSignature: 'IncompleteSignatureException',
  InvalidSignature: 'InvalidSignatureException',
  SignatureExpired: 'InvalidSignatureException',
  UnrecognizedClient: 'UnrecognizedClientException',
  ExpiredToken: 'ExpiredTokenException',
};

const EC2_AUTH: Record<SigV4FailureCode, [string, number]> = {
  MissingAuthenticationToken: ['MissingAuthenticationToken', 401],
  IncompleteSignature: ['IncompleteSignature', 400],
  InvalidSignature: ['SignatureDoesNotMatch', 403],
  SignatureExpired: ['RequestExpired', 400],
  UnrecognizedClient: ['AuthFailure', 401],
  ExpiredToken: ['RequestExpired', 400],
};

/** A SigV4 refusal in the shape of the service that was called. */
export function authErrorResponse(service: ServiceName, code: SigV4FailureCode, message: string): EmuResponse {
  if (service === 'ec2') {
    const [name, status] = EC2_AUTH[code];
    const text =
      code === 'UnrecognizedClient' ? 'AWS was not able to validate the provided access credentials' : code === 'MissingAuthenticationToken' ? 'Request is missing Authentication Token' : message;
    return ec2ErrorResponse(name, status, text);
  }
  // JSON 1.1 services answer authentication failures with 400, rest-json ones with 403.
  if (service === 'cognito') return cognitoErrorResponse(EBS_AUTH[code], message, 400);
  return ebsErrorResponse(EBS_AUTH[code], 403, message);
}

/** 500 in the service's shape. */
export function internalErrorResponse(service: ServiceName): EmuResponse {
  if (service === 'ec2') return ec2ErrorResponse('InternalError', 500, 'An internal error has occurred');
  if (service === 'cognito') return cognitoErrorResponse('InternalErrorException', 'An internal error occurred.', 500);
  return ebsErrorResponse('InternalServerException', 500, 'An internal error has occurred. Please retry your request.');
}

/** Account-level throttling in the service's shape; EBS alternates its two throttling exceptions. */
export function throttleResponse(service: ServiceName, pick: number): EmuResponse {
  if (service === 'ec2') return ec2ErrorResponse('RequestLimitExceeded', 503, 'Request limit exceeded.');
  if (service === 'cognito') return cognitoErrorResponse('TooManyRequestsException', 'Rate exceeded', 400);
  return pick < 0.5
    ? ebsErrorResponse('RequestThrottledException', 400, 'The request was throttled. Reduce your request rate.', 'ACCOUNT_THROTTLED')
    : ebsErrorResponse('ThrottlingException', 400, 'Rate exceeded');
}
