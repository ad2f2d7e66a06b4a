// RegisterImage over a completed snapshot, as Blockport registers every AMI: root /dev/xvda on gp3, deleted on
// termination, ENA, IMDSv2 required, the snapshot's tags; then DescribeImages until the image is available.
import { DescribeImagesCommand, DescribeSnapshotsCommand, RegisterImageCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { sleep } from './retry.ts';

/** What a person chooses for a new AMI. */
export interface RegisterImageRequest {
  snapshotId: string;
  name: string;
  description?: string;
  architecture: 'x86_64' | 'arm64';
  bootMode: 'legacy-bios' | 'uefi' | 'uefi-preferred';
  /** Tags for the image; by default the snapshot's own (aws: keys left out). */
  tags?: Record<string, string>;
}

/** A registered image and its state. */
export interface RegisteredImage {
  imageId: string;
  architecture: string;
  bootMode: string;
  state: string;
  stateReason?: string;
}

/** The root device every Blockport AMI boots from. */
export const ROOT_DEVICE = '/dev/xvda';

/** A registration the service refused, with a sentence for the person. */
export class RegisterImageError extends Error {
  override readonly name = 'RegisterImageError';
  constructor(
    message: string,
    /** The service's error code (InvalidAMIName.Duplicate, …). */
    readonly code: string,
  ) {
    super(message);
  }
}

/** The sentence for a refused RegisterImage. */
export function registerImageProblem(err: unknown, name: string): RegisterImageError {
  const code = (err as { name?: string; Code?: string }).Code ?? (err as Error).name ?? 'Error';
  const detail = (err as Error).message ?? String(err);
  const text: Record<string, string> = {
    'InvalidAMIName.Duplicate': `An AMI named “${name}” already exists in this account and Region (${detail}). Choose another name, or deregister the old image first.`,
    'InvalidAMIName.Malformed': `“${name}” is not a valid AMI name: use 3 to 128 letters, digits, spaces and ( ) [ ] . / - ' @ _.`,
    'InvalidSnapshot.NotFound': `The snapshot was not found or this connection may not read it (${detail}). Check that it still exists in this Region.`,
    IncorrectState: `The snapshot is not completed yet (${detail}). Wait until it is, then create the AMI.`,
    UnauthorizedOperation: `This connection may not register images (${detail}). Ask for ec2:RegisterImage and ec2:DescribeImages on your own snapshots and images.`,
    InvalidParameterCombination: `EC2 refused this combination (${detail}). arm64 images must use the uefi boot mode.`,
  };
  return new RegisterImageError(text[code] ?? `EC2 refused to register the AMI: ${detail} Check the values and try again.`, code);
}

/** Registers an AMI from a completed snapshot; returns its id. */
export async function registerImage(ec2: EC2Client, req: RegisterImageRequest): Promise<string> {
  let tags = req.tags;
  let volumeSize: number | undefined;
  try {
    const snap = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [req.snapshotId] }))).Snapshots?.[0];
    volumeSize = snap?.VolumeSize;
    tags ??= Object.fromEntries((snap?.Tags ?? []).filter((t) => t.Key && !t.Key.startsWith('aws:')).map((t) => [t.Key!, t.Value ?? '']));
  } catch {
    // Without DescribeSnapshots the image still registers; the size then follows the snapshot and no tags are copied.
  }
  const tagList = Object.entries(tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  try {
    const out = await ec2.send(
      new RegisterImageCommand({
        Name: req.name,
        ...(req.description ? { Description: req.description } : {}),
        Architecture: req.architecture,
        BootMode: req.bootMode,
        RootDeviceName: ROOT_DEVICE,
        VirtualizationType: 'hvm',
        EnaSupport: true,
        ImdsSupport: 'v2.0',
        BlockDeviceMappings: [
          { DeviceName: ROOT_DEVICE, Ebs: { SnapshotId: req.snapshotId, VolumeType: 'gp3', DeleteOnTermination: true, ...(volumeSize ? { VolumeSize: volumeSize } : {}) } },
        ],
        ...(tagList.length ? { TagSpecifications: [{ ResourceType: 'image', Tags: tagList }] } : {}),
      }),
    );
    return out.ImageId!;
  } catch (err) {
    throw registerImageProblem(err, req.name);
  }
}

/** The image's current state, or undefined when EC2 does not know it. */
export async function describeImage(ec2: EC2Client, imageId: string): Promise<RegisteredImage | undefined> {
  const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
  if (!img) return undefined;
  return {
    imageId,
    architecture: img.Architecture ?? '',
    bootMode: img.BootMode ?? '',
    state: img.State ?? 'pending',
    ...(img.StateReason?.Message ? { stateReason: img.StateReason.Message } : {}),
  };
}

/** Polls DescribeImages until the image leaves `pending` (or `maxWaitMs` passes), telling each state seen. */
export async function waitForImage(
  ec2: EC2Client,
  imageId: string,
  opts: { maxWaitMs?: number; onState?: (img: RegisteredImage) => void; signal?: AbortSignal } = {},
): Promise<RegisteredImage> {
  const deadline = Date.now() + (opts.maxWaitMs ?? 30 * 60_000);
  let delay = 250;
  for (;;) {
    let img: RegisteredImage | undefined;
    try {
      img = await describeImage(ec2, imageId);
    } catch (err) {
      // Just after RegisterImage, DescribeImages may not know the id yet (eventual consistency).
      if ((err as { name?: string }).name !== 'InvalidAMIID.NotFound') throw err;
    }
    if (img) {
      opts.onState?.(img);
      if (img.state !== 'pending') return img;
    }
    if (Date.now() > deadline || opts.signal?.aborted) return img ?? { imageId, architecture: '', bootMode: '', state: 'pending' };
    await sleep(delay);
    delay = Math.min(5000, delay * 1.5);
  }
}

/** The EC2 console page of an image. */
export function imageConsoleUrl(region: string, imageId: string): string {
  return `https://${region}.console.aws.amazon.com/ec2/home?region=${region}#ImageDetails:imageId=${imageId}`;
}
