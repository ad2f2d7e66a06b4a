// The dev/preview relay (Vite proxy): the same paths CloudFront relays, forwarded so signatures stay valid.
import { awsHost, RELAY_PREFIX, type Service } from './endpoints.ts';

/** One proxied path: what it matches, where it goes, how the path and Host are set. */
export interface RelayRoute {
  service: Service;
  /** Regular expression source matched against the request URL (Vite's `^…` proxy key). */
  pattern: string;
  target: string;
  /** True when the target is AWS itself (Host becomes the target's host). */
  changeOrigin: boolean;
  /** Path the target sees: the one the request was signed for. */
  rewrite(path: string): string;
  /** Host header the target must see: the AWS host the request was signed for; undefined = leave as is. */
  host(authorization: string | undefined): string | undefined;
}

const SCOPE = /Credential=[^/,\s]+\/\d{8}\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/;

/** The AWS host a SigV4 Authorization header was signed for (from its credential scope), if any. */
export function signedHost(authorization: string | undefined): string | undefined {
  const m = authorization ? SCOPE.exec(authorization) : null;
  if (!m) return undefined;
  const [, region, service] = m;
  return awsHost(service as Service, region!);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Routes for a relay target: a URL (e.g. the emulator server; every service goes there, Host set to the signed AWS
 * host so SigV4 verifies) or `aws:<region>` (each service to its real regional endpoint).
 */
export function relayRoutes(target: string, basePath = ''): RelayRoute[] {
  const aws = /^aws:([a-z0-9-]+)$/.exec(target);
  if (!aws) new URL(target); // throws on a malformed target, at startup
  const base = escape(basePath);
  return (['ebs', 'ec2', 'cognito-identity'] as const).map((service) => {
    const prefix = service === 'ebs' ? '/snapshots' : RELAY_PREFIX[service];
    const strip = service === 'ebs' ? basePath : `${basePath}${prefix}`;
    return {
      service,
      pattern: `^${base}${escape(prefix)}(?=[/?]|$)`,
      target: aws ? `https://${awsHost(service, aws[1]!)}` : target,
      changeOrigin: Boolean(aws),
      rewrite: (path: string) => {
        const rest = path.startsWith(strip) ? path.slice(strip.length) : path;
        return rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
      },
      host: (authorization) => (aws ? undefined : signedHost(authorization)),
    };
  });
}
