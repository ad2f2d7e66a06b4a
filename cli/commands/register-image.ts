// `blockport register-image <snapshot-id> --name NAME`: an AMI from a completed snapshot, waited on until available.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Connection } from '../../src/aws/clients.ts';
import { RegisterImageError, imageConsoleUrl, registerImage, waitForImage, type RegisterImageRequest, type RegisteredImage } from '../../src/engine/register-image.ts';
import { NO_REGION, nodeClients, regionOf, tagFlag, UsageError, walkArgs } from '../shared.ts';

/** Help text for `blockport register-image`. */
export const usage = `Usage: blockport register-image <snapshot-id> --name NAME --architecture A --boot-mode M [options]

Registers an AMI from a completed snapshot: root device /dev/xvda (gp3, deleted on termination), ENA support,
IMDSv2 required, the snapshot's tags; then waits until the image is available.

  --name NAME           AMI name, 3–128 characters, unique in the account and Region
  --description D       AMI description
  --architecture A      x86_64 or arm64 (\`blockport inspect\` tells which the image is)
  --boot-mode M         legacy-bios, uefi or uefi-preferred
  --tag k=v             an image tag (repeat); without any, the snapshot's tags are copied
  --endpoint URL        EC2 endpoint, e.g. http://127.0.0.1:4566 for \`npm run emulator\`
  --region R            AWS Region (default: AWS_REGION; us-east-1 with --endpoint)
  --no-wait             return once registered, without waiting for 'available'
  --no-verify-ssl       accept a self-signed certificate
  --json                print {"ImageId", "Architecture", "BootMode", "State"} on stdout

\`blockport upload <image> --register-image NAME\` does the same right after an upload, with the architecture
and boot mode read from the image.`;

const ARCHS = ['x86_64', 'arm64'] as const;
const MODES = ['legacy-bios', 'uefi', 'uefi-preferred'] as const;

/** Checks an --architecture value; a sentence when wrong. */
export function parseArchitecture(v: string): RegisterImageRequest['architecture'] {
  if (!(ARCHS as readonly string[]).includes(v)) throw new UsageError(`--architecture takes x86_64 or arm64, got ${v}.`);
  return v as RegisterImageRequest['architecture'];
}

/** Checks a --boot-mode value; a sentence when wrong. */
export function parseBootMode(v: string): RegisterImageRequest['bootMode'] {
  if (!(MODES as readonly string[]).includes(v)) throw new UsageError(`--boot-mode takes legacy-bios, uefi or uefi-preferred, got ${v}.`);
  return v as RegisterImageRequest['bootMode'];
}

/** The --json shape of a registered image. */
export function imageJson(img: RegisteredImage): Record<string, string> {
  return { ImageId: img.imageId, Architecture: img.architecture, BootMode: img.bootMode, State: img.state, ...(img.stateReason ? { StateReason: img.stateReason } : {}) };
}

/** Registers and (unless told not to) waits, telling progress on stderr; the image as last seen. */
export async function registerAndWait(ec2: EC2Client, region: string, req: RegisterImageRequest, opts: { wait?: boolean; quiet?: boolean } = {}): Promise<RegisteredImage> {
  const imageId = await registerImage(ec2, req);
  if (!opts.quiet) console.error(`blockport: registered ${imageId} (${req.name}, ${req.architecture}, ${req.bootMode}); waiting until it is available…`);
  const img =
    opts.wait === false
      ? { imageId, architecture: req.architecture, bootMode: req.bootMode, state: 'pending' }
      : await waitForImage(ec2, imageId, opts.quiet ? {} : { onState: (i) => console.error(`blockport: ${imageId} is ${i.state}`) });
  if (!opts.quiet) console.error(`blockport: ${imageId} ${img.state}. Console: ${imageConsoleUrl(region, imageId)}`);
  return img;
}

/** Runs `blockport register-image`: 0 when available (or registered with --no-wait), 1 when refused or failed, 2 for a bad command line. */
export async function run(args: string[]): Promise<number> {
  let snapshotId = '';
  let name: string | undefined;
  let description: string | undefined;
  let architecture: RegisterImageRequest['architecture'] | undefined;
  let bootMode: RegisterImageRequest['bootMode'] | undefined;
  let endpoint: string | undefined;
  let region: string | undefined;
  let json = false;
  let wait = true;
  let verifySsl = true;
  const tags: Record<string, string> = {};
  try {
    const option = (a: string, value: () => string): boolean => {
      if (a === '--name') name = value();
      else if (a === '--description') description = value();
      else if (a === '--architecture') architecture = parseArchitecture(value());
      else if (a === '--boot-mode') bootMode = parseBootMode(value());
      else if (a === '--endpoint') endpoint = value();
      else if (a === '--region') region = value();
      else if (a === '--json') json = true;
      else if (a === '--no-wait') wait = false;
      else if (a === '--no-verify-ssl') verifySsl = false;
      else if (a === '--tag') tagFlag(value(), tags);
      else return false;
      return true;
    };
    walkArgs('register-image', args, option, (a) => {
      if (snapshotId) throw new UsageError(`Name one snapshot (got ${snapshotId} and ${a}).`);
      snapshotId = a;
    });
    if (!/^snap-[0-9a-f]+$/.test(snapshotId)) throw new UsageError('Name the snapshot to register: blockport register-image snap-… --name NAME.');
    if (!name) throw new UsageError('Give the AMI a name with --name.');
    if (!architecture || !bootMode) throw new UsageError('Give --architecture and --boot-mode (`blockport inspect <image>` reads them from the image).');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`blockport register-image: ${err.message}\n\n${usage}`);
    return 2;
  }
  const r = regionOf({ region, endpoint });
  if (!r) {
    console.error(`blockport register-image: ${NO_REGION}`);
    return 2;
  }
  const connection: Connection = { kind: 'endpoint', region: r, ...(endpoint ? { endpoint } : {}) };
  const clients = await nodeClients(connection, { verifySsl, sockets: 1, requestTimeoutMs: 60_000 });
  try {
    const req: RegisterImageRequest = { snapshotId, name, architecture, bootMode, ...(description ? { description } : {}), ...(Object.keys(tags).length ? { tags } : {}) };
    const img = await registerAndWait(clients.ec2, r, req, { wait });
    if (json) process.stdout.write(`${JSON.stringify(imageJson(img), null, 2)}\n`);
    return img.state === 'available' || (!wait && img.state === 'pending') ? 0 : 1;
  } catch (err) {
    console.error(`blockport register-image: ${err instanceof RegisterImageError ? err.message : ((err as Error).message ?? err)}`);
    return 1;
  } finally {
    clients.close();
  }
}
