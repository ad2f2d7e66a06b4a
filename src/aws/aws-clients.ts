// AWS-mode client configuration: region, endpoint per mode, shared credentials, relay re-addressing, the Blockport tag.
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { FetchHttpHandler } from '@smithy/fetch-http-handler';
import type { HttpHandler } from '@smithy/protocol-http';
import type { AwsCredentialIdentityProvider, HttpHandlerOptions } from '@smithy/types';
import { routeFor } from './endpoints.ts';
import { identityIdOf } from './credential-bridge.ts';
import { BLOCKPORT_TAG, OWNER_TAG_KEY } from './iam-policy.ts';
import { relayHandler } from './relay-handler.ts';
import type { AwsSettings } from './settings.ts';

/** The part of an EBS/EC2 client config that AWS mode decides. */
export interface AwsClientConfig {
  region: string;
  endpoint?: string;
  credentials: AwsCredentialIdentityProvider;
  requestHandler?: HttpHandler<HttpHandlerOptions>;
}

/**
 * Config for the EBS or EC2 client of an AWS-mode connection. `handler` is the transport the caller would use
 * anyway (e.g. a Blob-body fetch handler); in relay mode it is wrapped to send to the page's origin after signing.
 */
export function awsClientConfig(
  service: 'ebs' | 'ec2',
  s: AwsSettings,
  credentials: AwsCredentialIdentityProvider,
  origin: string | undefined,
  handler?: HttpHandler<HttpHandlerOptions>,
): AwsClientConfig {
  const route = routeFor(service, s, origin);
  const base = handler ?? (route.sendTo ? (new FetchHttpHandler() as HttpHandler<HttpHandlerOptions>) : undefined);
  return {
    region: s.region,
    credentials,
    ...(route.endpoint ? { endpoint: route.endpoint } : {}),
    ...(route.sendTo && base ? { requestHandler: relayHandler(base, route.sendTo) } : base ? { requestHandler: base } : {}),
  };
}

/**
 * Tags every StartSnapshot with Blockport's tag and its owner's Cognito identity id (the IAM policy lets each person
 * touch only snapshots carrying their own id).
 */
export function tagStartedSnapshots(ebs: EBSClient, credentials: AwsCredentialIdentityProvider): void {
  ebs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'StartSnapshotCommand') {
        const input = args.input as { Tags?: { Key?: string; Value?: string }[] };
        const owner = identityIdOf(await credentials());
        const tags = (input.Tags ?? []).filter((t) => t.Key !== OWNER_TAG_KEY);
        if (!tags.some((t) => t.Key === BLOCKPORT_TAG.Key)) tags.push({ ...BLOCKPORT_TAG });
        if (owner) tags.push({ Key: OWNER_TAG_KEY, Value: owner });
        args = { ...args, input: { ...input, Tags: tags } as typeof args.input };
      }
      return next(args);
    },
    { step: 'initialize', name: 'blockportTagMiddleware', override: true },
  );
}

/** Minimal client shape for middleware: both EBSClient and EC2Client have it. */
interface WithMiddleware {
  middlewareStack: { add(mw: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>, opts: { step: 'initialize'; name: string; override: boolean }): void };
}

/**
 * Resends a request once when the SDK has just corrected its clock from the service's Date header (a laptop clock
 * off by minutes), since the engine runs clients without SDK retries.
 */
export function retryAfterClockCorrection(client: EBSClient | EC2Client): void {
  (client as unknown as WithMiddleware).middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (e) {
        if ((e as { $metadata?: { clockSkewCorrected?: boolean } }).$metadata?.clockSkewCorrected) return next(args);
        throw e;
      }
    },
    { step: 'initialize', name: 'blockportClockSkewRetry', override: true },
  );
}

/** Error names with which EBS and EC2 refuse temporary credentials that have expired (by the service's clock). */
const EXPIRED = /^(ExpiredToken|ExpiredTokenException|RequestExpired)$/;

/** What retryAfterExpiredCredentials needs of a credential cache (RefreshingCredentials). */
export interface RejectableCredentials {
  /** The access key id held now (the one the next request signs with). */
  readonly accessKeyId: string | undefined;
  /** Fetches new credentials once for every caller that saw `stale` refused. */
  refreshRejected(stale: string | undefined): Promise<unknown>;
}

/**
 * When the service calls the credentials expired (the local clock judged them fresh: it lags the service's by more
 * than the refresh margin), refresh them once and resend, since the engine runs clients without SDK retries.
 */
export function retryAfterExpiredCredentials(client: EBSClient | EC2Client, creds: RejectableCredentials): void {
  (client as unknown as WithMiddleware).middlewareStack.add(
    (next) => async (args) => {
      const signedWith = creds.accessKeyId;
      try {
        return await next(args);
      } catch (e) {
        if (!EXPIRED.test((e as Error)?.name ?? '')) throw e;
        await creds.refreshRejected(signedWith ?? creds.accessKeyId);
        return next(args);
      }
    },
    { step: 'initialize', name: 'blockportExpiredCredentialsRetry', override: true },
  );
}
