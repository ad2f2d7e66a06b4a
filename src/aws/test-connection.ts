// "Test connection": proves credentials, signing and reachability, and explains precisely what is wrong.
import { EBSClient, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import { DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { OWNER_TAG_KEY } from './iam-policy.ts';
import { advise, destination, isNetworkFailure, type Advice } from './advice.ts';
import { awsClientConfig, retryAfterClockCorrection } from './aws-clients.ts';
import type { Service } from './endpoints.ts';
import type { RefreshingCredentials } from './refreshing-credentials.ts';
import { observeServiceClock, serviceClock } from './service-clock.ts';
import type { AwsSettings } from './settings.ts';

/** A snapshot id that cannot exist: reading it must come back as the service's 404. */
export const PROBE_SNAPSHOT_ID = 'snap-00000000000000000';

/** One step of the test. */
export interface CheckStep {
  step: 'credentials' | 'ebs' | 'ec2';
  ok: boolean;
  /** What was proven, or what went wrong. */
  text: string;
  advice?: Advice;
}

/** The outcome of Test connection. */
export interface CheckResult {
  ok: boolean;
  steps: CheckStep[];
  /** The identity the pool gave this browser (public, safe to show). */
  identityId?: string;
  /** When the credentials held now expire (epoch ms). */
  expiration?: number;
  /** AWS time minus this computer's time (ms), when it is off by a minute or more (Blockport then works by AWS time). */
  clockOffsetMs?: number;
}

/** A sentence for a clock that is off but corrected for, or undefined when it is close enough. */
export function clockNote(offsetMs: number): string | undefined {
  const minutes = Math.round(Math.abs(offsetMs) / 60_000);
  if (minutes < 1) return undefined;
  return `This computer's clock is ${minutes} minute${minutes === 1 ? '' : 's'} ${offsetMs > 0 ? 'behind' : 'ahead of'} AWS time; Blockport signs and refreshes credentials by AWS time, but set the clock to update automatically (NTP).`;
}

/** How long the reachability probe may take before it counts as telling nothing (ms). */
export const PROBE_TIMEOUT_MS = 5000;

/**
 * True when something answers at `url` even though a CORS request failed (the browser's opaque no-cors fetch), false
 * when nothing does; undefined when it cannot tell (outside a browser, or no answer within the timeout).
 */
export async function probeReachable(url: string, opts: { fetch?: typeof fetch; timeoutMs?: number } = {}): Promise<boolean | undefined> {
  if (!opts.fetch && typeof window === 'undefined' && typeof self === 'undefined') return undefined;
  const doFetch = opts.fetch ?? fetch;
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A host that drops packets leaves a fetch pending for minutes: Test connection must not hang on the probe.
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => (abort.abort(), resolve(undefined)), opts.timeoutMs ?? PROBE_TIMEOUT_MS)));
  const probe = doFetch(url, { mode: 'no-cors', cache: 'no-store', credentials: 'omit', signal: abort.signal }).then(
    () => true,
    () => (abort.signal.aborted ? undefined : false),
  );
  try {
    return await Promise.race([probe, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the three steps in order and stops at the first failure (later steps would fail for the same reason). */
export async function testConnection(
  s: AwsSettings,
  credentials: RefreshingCredentials,
  opts: { origin?: string; probe?: (url: string) => Promise<boolean | undefined> } = {},
): Promise<CheckResult> {
  // The page's CSP refuses some endpoints before any network: remember what it refused, to say so.
  const refused: string[] = [];
  const onViolation = (e: SecurityPolicyViolationEvent) => void refused.push(e.blockedURI);
  if (typeof document !== 'undefined') document.addEventListener('securitypolicyviolation', onViolation);
  try {
    return await runSteps(s, credentials, opts.origin, async (service, e) => {
      const ctx = { settings: s, service, origin: opts.origin };
      // Violation events are queued: let them arrive before deciding.
      await new Promise((r) => setTimeout(r, 0));
      const cspBlocked = refused.some((u) => u.startsWith(new URL(destination(ctx)).origin));
      const reachable = isNetworkFailure(e) && !cspBlocked && s.endpoint.mode !== 'relay' ? await (opts.probe ?? probeReachable)(destination(ctx)) : undefined;
      return advise(e, { ...ctx, ...(reachable !== undefined ? { reachable } : {}), ...(cspBlocked ? { cspBlocked } : {}) });
    });
  } finally {
    if (typeof document !== 'undefined') document.removeEventListener('securitypolicyviolation', onViolation);
  }
}

async function runSteps(
  s: AwsSettings,
  credentials: RefreshingCredentials,
  origin: string | undefined,
  explain: (service: Service, e: unknown) => Promise<Advice>,
): Promise<CheckResult> {
  const steps: CheckStep[] = [];
  let identityId: string | undefined;
  try {
    const c = await credentials.get();
    identityId = (c as { identityId?: string }).identityId;
    steps.push({ step: 'credentials', ok: true, text: `The identity pool gave this browser temporary credentials${identityId ? ` (identity ${identityId})` : ''}.` });
  } catch (e) {
    const advice = await explain('cognito-identity', e);
    steps.push({ step: 'credentials', ok: false, text: advice.what, advice });
    return { ok: false, steps };
  }

  const ebs = new EBSClient({ ...awsClientConfig('ebs', s, credentials.provider, origin), maxAttempts: 1 });
  retryAfterClockCorrection(ebs);
  observeServiceClock(ebs);
  try {
    await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: PROBE_SNAPSHOT_ID, MaxResults: 100 }));
    steps.push({ step: 'ebs', ok: true, text: 'EBS accepted the signed request.' });
  } catch (e) {
    if ((e as { name?: string }).name === 'ResourceNotFoundException') {
      steps.push({ step: 'ebs', ok: true, text: 'EBS accepted the signed request and answered as the service does (snapshot not found).' });
    } else if ((e as { name?: string }).name === 'AccessDeniedException' && (e as Error).message?.includes(PROBE_SNAPSHOT_ID)) {
      // The per-person policy refuses any snapshot not tagged with this identity, the probe's included: the signature held.
      steps.push({ step: 'ebs', ok: true, text: 'EBS accepted the signed request, and IAM refused the probe snapshot as not yours, as the per-person policy should.' });
    } else {
      const advice = await explain('ebs', e);
      steps.push({ step: 'ebs', ok: false, text: advice.what, advice });
      return { ok: false, steps, identityId, expiration: credentials.expiration };
    }
  } finally {
    ebs.destroy();
  }

  const ec2 = new EC2Client({ ...awsClientConfig('ec2', s, credentials.provider, origin), maxAttempts: 1 });
  retryAfterClockCorrection(ec2);
  observeServiceClock(ec2);
  try {
    const out = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5 }));
    steps.push({ step: 'ec2', ok: true, text: `EC2 lists this account's snapshots (${out.Snapshots?.length ?? 0} shown of the first page).${await imagesNote(ec2, identityId)}` });
  } catch (e) {
    const advice = await explain('ec2', e);
    steps.push({ step: 'ec2', ok: false, text: advice.what, advice });
    return { ok: false, steps, identityId, expiration: credentials.expiration };
  } finally {
    ec2.destroy();
  }
  // Signed requests succeeded although the clock is off (the SDK corrected it): still say so.
  const note = serviceClock.sampledAt ? clockNote(serviceClock.offsetMs) : undefined;
  if (note) steps[1] = { ...steps[1]!, text: `${steps[1]!.text} ${note}` };
  return { ok: true, steps, identityId, expiration: credentials.expiration, ...(note ? { clockOffsetMs: serviceClock.offsetMs } : {}) };
}

/** The name of the image a dry run of RegisterImage asks for (nothing is ever registered under it). */
export const PROBE_IMAGE_NAME = 'blockport-connection-check';

const refusedName = (e: unknown): boolean => /Unauthorized|AccessDenied/.test((e as { name?: string }).name ?? '');

/**
 * Whether Create AMI can work: DescribeImages is allowed, and RegisterImage with DryRun (an image tagged as this
 * person's, as Create AMI tags it) answers DryRunOperation rather than UnauthorizedOperation. The dry run names no
 * snapshot, so it proves the right to register images; the per-snapshot condition is the snapshots' own tags.
 */
async function imagesNote(ec2: EC2Client, identityId: string | undefined): Promise<string> {
  try {
    await ec2.send(new DescribeImagesCommand({ Owners: ['self'], MaxResults: 5 }));
  } catch (e) {
    if (refusedName(e)) {
      return ' It may not read images (ec2:DescribeImages), so Create AMI will not work: deploy the current template, which allows RegisterImage and DescribeImages on your own snapshots and images.';
    }
    return '';
  }
  const read = ' It may read this account\'s images too, so Create AMI can follow a new image until it is available.';
  try {
    await ec2.send(
      new RegisterImageCommand({
        DryRun: true,
        Name: PROBE_IMAGE_NAME,
        Architecture: 'x86_64',
        RootDeviceName: '/dev/xvda',
        VirtualizationType: 'hvm',
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 1, VolumeType: 'gp3' } }],
        ...(identityId ? { TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: OWNER_TAG_KEY, Value: identityId }] }] } : {}),
      }),
    );
    return read;
  } catch (e) {
    if ((e as { name?: string }).name === 'DryRunOperation') return `${read} A dry run of RegisterImage was allowed, so Create AMI may register images from your snapshots.`;
    if (refusedName(e)) {
      return `${read} But a dry run of RegisterImage was refused (ec2:RegisterImage), so Create AMI will not work: deploy the current template, which allows RegisterImage on your own snapshots.`;
    }
    return `${read} Whether it may register images could not be told (${(e as { name?: string }).name ?? 'error'} to a dry run of RegisterImage).`;
  }
}
