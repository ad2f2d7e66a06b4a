// EC2 machine images (AMIs) made from the emulator's snapshots: RegisterImage's validation, pending then available,
// DeregisterImage. Images are records in the model's store (so they outlive a restart, as its snapshots do), each
// account seeing its own.
import type { EbsModel, SnapshotView } from './model.ts';
import type { ImageMapping, ImageRecord } from './store.ts';
import { ServiceRefusal } from './errors.ts';

export type { ImageMapping } from './store.ts';

/** An EC2 error code and message (the wire answers it as EC2's XML error). */
export class ImageError extends ServiceRefusal {
  override readonly name = 'ImageError';
}

/** An image as DescribeImages shows it: the stored record with its state derived from the clock. */
export interface ImageView extends Omit<ImageRecord, 'availableAt'> {
  state: 'pending' | 'available';
}

/** RegisterImage parameters as read from the wire. */
export interface RegisterImageInput {
  name?: string;
  description?: string;
  architecture?: string;
  bootMode?: string;
  rootDeviceName?: string;
  virtualizationType?: string;
  enaSupport?: boolean;
  imdsSupport?: string;
  mappings: { deviceName?: string; snapshotId?: string; volumeSize?: number; volumeType?: string; deleteOnTermination?: boolean }[];
  tags: { key: string; value: string }[];
}

const ARCHITECTURES = ['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac'];
const BOOT_MODES = ['legacy-bios', 'uefi', 'uefi-preferred'];
const VOLUME_TYPES = ['standard', 'io1', 'io2', 'gp2', 'sc1', 'st1', 'gp3'];
const NAME_RE = /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/;

/** The images of the model's account, over its store. */
export function imagesOf(model: EbsModel): ImageRegistry {
  return new ImageRegistry(model);
}

function newImageId(): string {
  const b = crypto.getRandomValues(new Uint8Array(9));
  return `ami-${[...b].map((x) => x.toString(16).padStart(2, '0')).join('').slice(0, 17)}`;
}

/** RegisterImage, DescribeImages and DeregisterImage over a model's snapshots. */
export class ImageRegistry {
  /** The model whose account, clock and snapshots the images are seen through. */
  constructor(readonly model: EbsModel) {}

  private get accountId(): string {
    return this.model.config.accountId;
  }

  /** How long a new image stays `pending` (ms); follows the snapshot completion delay. */
  private get delayMs(): number {
    return this.model.config.completionDelayMs;
  }

  /** RegisterImage: checks as EC2 does, then records a `pending` image. */
  async register(input: RegisterImageInput): Promise<ImageView> {
    const name = input.name;
    if (name === undefined) throw new ImageError('MissingParameter', 'The request must contain the parameter name');
    if (!NAME_RE.test(name)) {
      throw new ImageError(
        'InvalidAMIName.Malformed',
        `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`,
      );
    }
    if (input.description !== undefined && input.description.length > 255) throw new ImageError('InvalidParameterValue', 'The description must be 255 characters or fewer.');
    const architecture = input.architecture ?? 'i386';
    if (!ARCHITECTURES.includes(architecture)) {
      throw new ImageError('InvalidParameterValue', `Value (${architecture}) for parameter architecture is invalid. Valid values are: ${ARCHITECTURES.join(', ')}.`);
    }
    if (input.bootMode !== undefined && !BOOT_MODES.includes(input.bootMode)) {
      throw new ImageError('InvalidParameterValue', `Value (${input.bootMode}) for parameter bootMode is invalid. Valid values are: ${BOOT_MODES.join(', ')}.`);
    }
    if (architecture.startsWith('arm64') && input.bootMode && input.bootMode !== 'uefi') {
      throw new ImageError('InvalidParameterCombination', `The boot mode ${input.bootMode} is not supported for arm64 architecture; arm64 images boot with uefi.`);
    }
    if (input.imdsSupport !== undefined && input.imdsSupport !== 'v2.0') {
      throw new ImageError('InvalidParameterValue', `Value (${input.imdsSupport}) for parameter imdsSupport is invalid. The only valid value is v2.0.`);
    }
    const virtualizationType = input.virtualizationType ?? 'hvm';
    if (!['hvm', 'paravirtual'].includes(virtualizationType)) throw new ImageError('InvalidParameterValue', `Value (${virtualizationType}) for parameter virtualizationType is invalid.`);
    if (!input.mappings.length) throw new ImageError('InvalidParameterCombination', 'An image needs a root device: give a block device mapping with a snapshot, or an image location.');
    const rootDeviceName = input.rootDeviceName;
    if (!rootDeviceName) throw new ImageError('MissingParameter', 'The request must contain the parameter rootDeviceName');
    const mappings: ImageMapping[] = [];
    for (const m of input.mappings) {
      if (!m.deviceName) throw new ImageError('MissingParameter', 'The request must contain the parameter BlockDeviceMapping.DeviceName');
      if (mappings.some((x) => x.deviceName === m.deviceName)) throw new ImageError('InvalidBlockDeviceMapping', `The device name ${m.deviceName} is used more than once.`);
      const volumeType = m.volumeType ?? 'gp2';
      if (!VOLUME_TYPES.includes(volumeType)) throw new ImageError('InvalidParameterValue', `Value (${volumeType}) for parameter volumeType is invalid. Valid values are: ${VOLUME_TYPES.join(', ')}.`);
      let snap: SnapshotView | undefined;
      if (m.snapshotId) {
        if (!/^snap-[0-9a-f]+$/.test(m.snapshotId)) throw new ImageError('InvalidSnapshotID.Malformed', `Invalid id: "${m.snapshotId}" (expecting "snap-...")`);
        snap = await this.model.describeSnapshot(m.snapshotId);
        // Another account's snapshot, not shared, is as invisible as a missing one.
        if (!snap || snap.ownerId !== this.model.config.accountId) throw new ImageError('InvalidSnapshot.NotFound', `The snapshot '${m.snapshotId}' does not exist.`);
        if (snap.state !== 'completed') {
          throw new ImageError('IncorrectState', `Snapshot '${m.snapshotId}' is ${snap.state}: an image can be registered only from a completed snapshot.`);
        }
      }
      const volumeSize = m.volumeSize ?? snap?.volumeSize;
      if (volumeSize === undefined) throw new ImageError('InvalidBlockDeviceMapping', `The device ${m.deviceName} needs a snapshot or a volume size.`);
      if (!Number.isInteger(volumeSize) || volumeSize < 1 || volumeSize > 65536) {
        throw new ImageError('InvalidParameterValue', `Value (${volumeSize}) for parameter volumeSize is invalid. Expected an integer from 1 to 65536.`);
      }
      if (snap && volumeSize < snap.volumeSize) {
        throw new ImageError('InvalidBlockDeviceMapping', `Volume of size ${volumeSize}GB is smaller than snapshot '${snap.id}', expect size >= ${snap.volumeSize}GB`);
      }
      mappings.push({
        deviceName: m.deviceName,
        snapshotId: snap?.id ?? null,
        volumeSize,
        volumeType,
        deleteOnTermination: m.deleteOnTermination ?? true,
        encrypted: snap?.encrypted ?? false,
      });
    }
    const root = mappings.find((m) => m.deviceName === rootDeviceName);
    if (!root) throw new ImageError('InvalidBlockDeviceMapping', `The root device name ${rootDeviceName} is not among the block device mappings.`);
    if (!root.snapshotId) throw new ImageError('InvalidBlockDeviceMapping', `The root device ${rootDeviceName} must be made from a snapshot.`);
    const reserved = input.tags.find((t) => t.key.toLowerCase().startsWith('aws:'));
    if (reserved) throw new ImageError('InvalidParameterValue', `Tag key '${reserved.key}' is not valid: keys starting with 'aws:' are reserved for AWS use.`);
    const now = this.model.now();
    const rec: ImageRecord = {
      id: newImageId(),
      name,
      description: input.description ?? null,
      ownerId: this.model.config.accountId,
      creationDate: now,
      availableAt: now + this.delayMs,
      architecture,
      bootMode: input.bootMode ?? null,
      rootDeviceName,
      enaSupport: input.enaSupport ?? false,
      imdsSupport: input.imdsSupport ?? null,
      virtualizationType,
      mappings,
      tags: input.tags,
    };
    // The name is checked and the image written in one atomic update: two registrations of one name cannot both pass.
    await this.model.store.updateImages((all) => {
      const taken = [...all.values()].find((i) => i.name === name && i.ownerId === rec.ownerId);
      if (taken) throw new ImageError('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI ${taken.id}`);
      return { put: [rec], result: undefined };
    });
    return this.view(rec);
  }

  private view(rec: ImageRecord): ImageView {
    const { availableAt, ...rest } = rec;
    return { ...rest, state: this.model.now() >= availableAt ? 'available' : 'pending' };
  }

  /** Every image of this account, oldest first. */
  async list(): Promise<ImageView[]> {
    const mine = (await this.model.store.listImages()).filter((r) => r.ownerId === this.accountId);
    return mine.sort((a, b) => a.creationDate - b.creationDate).map((r) => this.view(r));
  }

  /** One image of this account, or undefined. */
  async get(id: string): Promise<ImageView | undefined> {
    return (await this.list()).find((v) => v.id === id);
  }

  /** DeregisterImage: false when this account has no such image. The snapshots stay. */
  deregister(id: string): Promise<boolean> {
    return this.model.store.updateImages((all) => {
      const r = all.get(id);
      return r && r.ownerId === this.accountId ? { remove: [id], result: true } : { result: false };
    });
  }
}
