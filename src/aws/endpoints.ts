// Where each service's requests are signed for and where they are actually sent, per endpoint mode.
import type { AwsSettings } from './settings.ts';

/** The services Blockport talks to. */
export type Service = 'ebs' | 'ec2' | 'cognito-identity';

/** Path of each service under the relay base (EBS keeps its own `/snapshots…` paths). */
export const RELAY_PREFIX: Record<Service, string> = { ebs: '', ec2: '/ec2', 'cognito-identity': '/cognito-identity' };

/** Where one service's requests go. */
export interface ServiceRoute {
  /** Endpoint given to the SDK (what SigV4 signs for); undefined = the SDK's regional default. */
  endpoint?: string;
  /** When set, requests are re-addressed here after signing (the relay): origin + path prefix. */
  sendTo?: string;
}

/** The AWS host of a service in a region (partition-aware for China). */
export function awsHost(service: Service, region: string): string {
  return `${service}.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
}

/** Routes a service's requests for these settings; `origin` is the page's origin (relay mode). */
export function routeFor(service: Service, s: AwsSettings, origin: string | undefined): ServiceRoute {
  const e = s.endpoint;
  if (e.mode === 'direct') return {};
  if (e.mode === 'custom') return { endpoint: e.url.replace(/\/+$/, '') };
  if (!origin) throw new Error('Relay mode needs the page origin: it only works from the Blockport page itself.');
  return { endpoint: `https://${awsHost(service, s.region)}`, sendTo: `${origin}${e.basePath}${RELAY_PREFIX[service]}` };
}

/** The URLs this page may contact for these settings (for the request audit and the CSP). */
export function contactedOrigins(s: AwsSettings, origin: string): string[] {
  const out = new Set<string>();
  for (const svc of ['ebs', 'ec2', 'cognito-identity'] as const) {
    const r = routeFor(svc, s, origin);
    out.add(new URL(r.sendTo ?? r.endpoint ?? `https://${awsHost(svc, s.region)}`).origin);
  }
  return [...out];
}
