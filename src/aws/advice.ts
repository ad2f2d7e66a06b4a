// Every connection failure → what happened and what to do, in one sentence each (DESIGN principle 6).
import { awsHost, routeFor, type Service } from './endpoints.ts';
import { blockportPolicy } from './iam-policy.ts';
import type { AwsSettings } from './settings.ts';

/** Stable names of the failures the app can explain. */
export type AdviceCode =
  | 'cors'
  | 'csp-blocked'
  | 'unreachable'
  | 'unreachable-or-cors'
  | 'relay-missing'
  | 'access-denied'
  | 'not-yours'
  | 'unknown-pool'
  | 'unknown-identity'
  | 'unauthenticated-disabled'
  | 'login-expired'
  | 'login-invalid'
  | 'clock-skew'
  | 'bad-signature'
  | 'credentials-expired'
  | 'credentials-unknown'
  | 'throttled'
  | 'service';

/** What happened, what to do, and for access problems the policy to attach. */
export interface Advice {
  code: AdviceCode;
  /** What happened, in one sentence. */
  what: string;
  /** What to do, in one sentence. */
  action: string;
  /** IAM policy JSON to grant, for 'access-denied'. */
  policy?: string;
  /** The service's own words, for the curious and for bug reports. */
  detail?: string;
}

/** The snapshot a per-person IAM refusal names (someone else's), or undefined for any other error. */
export function refusedSnapshot(err: unknown): string | undefined {
  const e = (err ?? {}) as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const denied = /^(AccessDenied|AccessDeniedException|UnauthorizedOperation)$/.test(e.name ?? '') || (e.$metadata?.httpStatusCode === 403 && /not authorized/i.test(e.message ?? ''));
  return denied ? /on resource: arn:\S*:snapshot\/(snap-[0-9a-f]+)/.exec(e.message ?? '')?.[1] : undefined;
}

/** The sentence for a snapshot the per-person policy refused. */
export function notYoursSentence(snapshotId: string): string {
  return `Snapshot ${snapshotId} is not yours: each person may read, write, delete or build on only the snapshots they started.`;
}

/** Where the failed request was going, to phrase the advice. */
export interface FailureContext {
  settings: AwsSettings;
  service: Service;
  /** The page's origin (relay mode). */
  origin?: string;
  /**
   * Result of a no-cors probe of the endpoint: true = something answers there, so a fetch failure was CORS; false =
   * nothing answers. Absent when no probe could tell (not run, or it did not settle): both causes are then named.
   */
  reachable?: boolean;
  /** True when the page's Content-Security-Policy refused the request (a securitypolicyviolation was seen). */
  cspBlocked?: boolean;
}

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  cause?: unknown;
}

const SERVICE_NAME: Record<Service, string> = { ebs: 'EBS', ec2: 'EC2', 'cognito-identity': 'Cognito Identity' };
const RELAY_HOW =
  'deploy deploy/blockport.json (CloudFront serves the site and relays /snapshots* to EBS), or run `npm run dev` with BLOCKPORT_RELAY_TARGET set';

/** Where requests for a service are sent, as a person would recognise it. */
export function destination(ctx: FailureContext): string {
  const r = routeFor(ctx.service, ctx.settings, ctx.origin);
  return r.sendTo ?? r.endpoint ?? `https://${awsHost(ctx.service, ctx.settings.region)}`;
}

/** True when the request never got an HTTP answer (browser: TypeError from fetch, CORS included; Node: socket errors). */
export function isNetworkFailure(err: unknown): boolean {
  const e = (err ?? {}) as ErrorLike;
  if (e.name === 'TypeError' && /fetch|network|load failed/i.test(e.message ?? '')) return true;
  return /^(ECONNREFUSED|ENOTFOUND|ECONNRESET|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/.test(e.code ?? '');
}

/** Turns any failure of a connection step into advice. */
export function advise(err: unknown, ctx: FailureContext): Advice {
  const e: ErrorLike = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  const name = e.name ?? e.code ?? '';
  const msg = e.message ?? '';
  const said = msg.trim().replace(/\.$/, '');
  const status = e.$metadata?.httpStatusCode;
  const svc = SERVICE_NAME[ctx.service];
  const where = destination(ctx);
  const mode = ctx.settings.endpoint.mode;
  const detail = `${name}${status ? ` (HTTP ${status})` : ''}: ${msg}`.slice(0, 600);

  if (isNetworkFailure(e) && ctx.cspBlocked) {
    return {
      code: 'csp-blocked',
      what: `This page's Content-Security-Policy does not allow requests to ${where}: only this origin, AWS endpoints and loopback addresses are allowed.`,
      action: 'Use the same-origin relay, or run the endpoint on localhost / 127.0.0.1.',
      detail,
    };
  }
  if (isNetworkFailure(e)) {
    if (mode === 'relay') {
      return {
        code: 'unreachable',
        what: `The relay at ${where} did not answer: the server that serves this page is not relaying ${svc} requests.`,
        action: `Check that the site is served with its relay: ${RELAY_HOW}.`,
        detail,
      };
    }
    if (ctx.reachable === false) {
      // A certificate the browser does not trust fails the probe as well: name it for https endpoints of one's own.
      const cert = mode === 'custom' && where.startsWith('https:') ? ', or this browser does not trust its certificate' : '';
      return {
        code: 'unreachable',
        what: `Nothing answered at ${where}: the address is wrong, the server is down, or the network blocks it${cert}.`,
        action: mode === 'custom' ? 'Check the endpoint URL and that the server (e.g. `npm run emulator`) is running.' : 'Check your network connection, then test again.',
        detail,
      };
    }
    if (ctx.reachable === undefined) {
      // A page cannot tell a refused connection from a CORS refusal by the error alone: say both, honestly.
      return {
        code: 'unreachable-or-cors',
        what: `Could not reach ${where}: the server is not running or not reachable from here, or it refuses cross-origin requests from this page (CORS); the browser does not say which.`,
        action:
          mode === 'custom'
            ? `Check the endpoint URL and that the server (e.g. \`npm run emulator\`) is running and allows CORS from this page, or use the same-origin relay (endpoint mode "relay"): ${RELAY_HOW}.`
            : `Check your network connection; if it works, use the same-origin relay (endpoint mode "relay"): ${RELAY_HOW}.`,
        detail,
      };
    }
    return {
      code: 'cors',
      what: `The browser blocked the request to ${where}: that endpoint does not allow cross-origin (CORS) requests from this page.`,
      action: `Use the same-origin relay instead (endpoint mode "relay"): ${RELAY_HOW}.`,
      detail,
    };
  }

  if (name === 'NotAuthorizedException') {
    if (/unauthenticated access is not supported/i.test(msg)) {
      return {
        code: 'unauthenticated-disabled',
        what: `The identity pool ${ctx.settings.identityPoolId} does not give credentials to visitors without a login.`,
        action: 'Enter a login (provider and token), or allow unauthenticated identities on the pool (template parameter AllowUnauthenticatedIdentities=true).',
        detail,
      };
    }
    if (/expired/i.test(msg)) {
      return { code: 'login-expired', what: 'The login token has expired.', action: 'Sign in again with your identity provider and paste the new token.', detail };
    }
    return {
      code: 'login-invalid',
      what: `The identity pool refused the login: ${said || 'the token is not valid for it'}.`,
      action: 'Check the provider name matches one configured on the pool, and paste a fresh token from that provider.',
      detail,
    };
  }
  if (name === 'ResourceNotFoundException' && ctx.service === 'cognito-identity') {
    if (/IdentityPool/i.test(msg)) {
      return {
        code: 'unknown-pool',
        what: `There is no identity pool ${ctx.settings.identityPoolId} in ${ctx.settings.region}.`,
        action: 'Copy IdentityPoolId from the stack outputs (deploy/deploy.sh prints it) and check the region matches.',
        detail,
      };
    }
    return { code: 'unknown-identity', what: 'The identity pool no longer knows this browser\'s identity.', action: 'Test the connection again: a new identity is created.', detail };
  }
  if (name === 'ValidationException' && ctx.service === 'cognito-identity' && /identityPoolId/i.test(msg)) {
    return { code: 'unknown-pool', what: `"${ctx.settings.identityPoolId}" is not a valid identity pool id.`, action: 'Copy IdentityPoolId from the stack outputs (region:uuid).', detail };
  }
  const denied = /^(AccessDenied|AccessDeniedException|UnauthorizedOperation|UnauthorizedException)$/.test(name) || (status === 403 && /not authorized|access denied/i.test(msg));
  const snapshot = denied ? refusedSnapshot({ name: 'AccessDenied', message: msg }) : undefined;
  if (snapshot) {
    // The per-person policy names the snapshot it refused: someone else's (or one Blockport did not start).
    return {
      code: 'not-yours',
      what: notYoursSentence(snapshot),
      action: 'Sign in as the person who started it, or pick one of your own snapshots in the Library.',
      detail,
    };
  }
  if (denied) {
    return {
      code: 'access-denied',
      what: `The credentials from the identity pool are not allowed to call ${svc} (${said || name}).`,
      action: "Attach this policy to the pool's roles (deploy/blockport.json does it for you):",
      policy: JSON.stringify(blockportPolicy(ctx.settings.region), null, 2),
      detail,
    };
  }
  if (/^(SignatureExpired|RequestTimeTooSkewed|RequestExpired)$/.test(name) || /signature (expired|not yet current)|time.*skew/i.test(msg)) {
    return {
      code: 'clock-skew',
      what: "This computer's clock differs from AWS time by more than 5 minutes, so every signed request is refused.",
      action: 'Set the system clock to update automatically (NTP), then test again.',
      detail,
    };
  }
  if (/^(ExpiredToken|ExpiredTokenException)$/.test(name) || /security token included in the request is expired/i.test(msg)) {
    return { code: 'credentials-expired', what: 'The temporary credentials expired before they were refreshed.', action: 'Test the connection again to get fresh credentials; an upload in progress resumes where it stopped.', detail };
  }
  if (/^(UnrecognizedClient|UnrecognizedClientException|InvalidClientTokenId|InvalidAccessKeyId)$/.test(name) || /security token included in the request is invalid/i.test(msg)) {
    return {
      code: 'credentials-unknown',
      what: `${svc} does not recognise these credentials: they were issued for another account, region or endpoint.`,
      action: 'Check that the identity pool, the region and the endpoint belong together, then test again.',
      detail,
    };
  }
  if (/^(InvalidSignatureException|SignatureDoesNotMatch|InvalidSignature|IncompleteSignature|IncompleteSignatureException)$/.test(name) || /signature we calculated does not match/i.test(msg)) {
    return {
      code: 'bad-signature',
      what: `${svc} rejected the request signature: the secret key does not match the access key, or something between here and ${svc} changed the request.`,
      action:
        mode === 'relay'
          ? 'Make sure the relay forwards every header except Host and the path unchanged (CloudFront origin request policy AllViewerExceptHostHeader), then test again.'
          : 'Test again to get fresh credentials; if it repeats, a proxy on the way is altering requests.',
      detail,
    };
  }
  if (/Throttl|RequestLimitExceeded|TooManyRequests/i.test(name)) {
    return { code: 'throttled', what: `${svc} is throttling requests from this account.`, action: 'Wait a minute and try again; uploads slow down on their own.', detail };
  }
  if (mode === 'relay' && (status === 404 || status === 403 || status === 405 || !e.$metadata?.requestId)) {
    return {
      code: 'relay-missing',
      what: `${where} did not answer like the ${svc} API${status ? ` (HTTP ${status})` : ''}: this site has no relay for it.`,
      action: `Serve the site with its relay: ${RELAY_HOW}.`,
      detail,
    };
  }
  return { code: 'service', what: `${svc} refused the request: ${said || name}.`, action: 'Check the settings and test again; if it repeats, report the details below.', detail };
}
