// One Create AMI form: values pre-filled from the image's boot detection, then RegisterImage and the image's state.
import { createClients, type Connection } from '../../aws/clients.ts';
import { RegisterImageError, imageConsoleUrl, inspectSnapshotBoot, registerImage, waitForImage, type BootArchitecture, type BootInfo, type BootMode, type NitroFinding } from '../../engine/api.ts';

/** An AMI name EC2 accepts, made from a file name and the snapshot id (unique per snapshot). */
export function defaultAmiName(fileName: string | undefined, snapshotId: string): string {
  const base = (fileName ?? 'image').replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9()[\] ./\-'@_]/g, '-').slice(0, 100);
  return `${base || 'image'}-${snapshotId}`;
}

/** The Region a connection's console link points to. */
export function regionOf(c: Connection): string {
  return c.kind === 'aws' ? c.settings.region : c.kind === 'endpoint' ? c.region : 'us-east-1';
}

/** State of one Create AMI form. */
export class AmiForm {
  open = $state(false);
  name = $state('');
  description = $state('');
  architecture = $state<BootArchitecture>('x86_64');
  bootMode = $state<BootMode>('uefi-preferred');
  /** Sentences from detection, shown beside the pre-filled values. */
  evidence = $state.raw<string[]>([]);
  detected = $state(false);
  /** Nitro findings of the uploaded image, when it was read. */
  nitro = $state.raw<NitroFinding[]>([]);
  busy = $state(false);
  problem = $state<string | null>(null);
  imageId = $state<string | null>(null);
  imageState = $state<string | null>(null);
  consoleUrl = $state<string | null>(null);

  constructor(
    readonly snapshotId: string,
    defaults: { fileName?: string; description?: string; boot?: BootInfo; nitro?: NitroFinding[] },
  ) {
    this.name = defaultAmiName(defaults.fileName, snapshotId);
    this.description = defaults.description ?? `Registered by Blockport from ${snapshotId}`;
    const b = defaults.boot;
    if (b?.architecture) this.architecture = b.architecture;
    if (b?.bootMode) this.bootMode = b.bootMode;
    this.detected = !!(b?.architecture && b?.bootMode);
    this.evidence = b?.evidence ?? ['How this snapshot boots was not read: check the architecture and boot mode.'];
    this.nitro = defaults.nitro ?? [];
  }

  /** Reads how the snapshot boots from its blocks and pre-fills the form (Create AMI from the Library). */
  async detectFromSnapshot(connection: Connection, volumeSizeGiB: number): Promise<void> {
    this.evidence = ['Reading how the snapshot boots…'];
    try {
      const { boot, nitro } = await inspectSnapshotBoot(connection, this.snapshotId, volumeSizeGiB);
      if (boot.architecture) this.architecture = boot.architecture;
      if (boot.bootMode) this.bootMode = boot.bootMode;
      this.detected = !!(boot.architecture && boot.bootMode);
      this.evidence = boot.evidence;
      this.nitro = nitro;
    } catch (err) {
      this.evidence = [`The snapshot's blocks could not be read (${(err as Error).message}): check the architecture and boot mode yourself.`];
    }
  }

  /** Registers the AMI and follows its state until it leaves pending. */
  async create(connection: Connection): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.problem = null;
    const clients = await createClients(connection);
    try {
      const id = await registerImage(clients.ec2, {
        snapshotId: this.snapshotId,
        name: this.name.trim(),
        architecture: this.architecture,
        bootMode: this.bootMode,
        ...(this.description.trim() ? { description: this.description.trim() } : {}),
      });
      this.imageId = id;
      this.imageState = 'pending';
      this.consoleUrl = imageConsoleUrl(regionOf(connection), id);
      const img = await waitForImage(clients.ec2, id, { onState: (i) => (this.imageState = i.state) });
      this.imageState = img.state;
      if (img.state !== 'available') this.problem = `The image ${id} is ${img.state}${img.stateReason ? `: ${img.stateReason}` : ''}. Check it in the EC2 console.`;
    } catch (err) {
      this.problem = err instanceof RegisterImageError ? err.message : `The AMI could not be registered: ${(err as Error).message}. Check the connection and try again.`;
    } finally {
      clients.close();
      this.busy = false;
    }
  }
}

const forms = new Map<string, AmiForm>();

/** The page's one form per snapshot, so it survives view switches. */
export function amiFormFor(snapshotId: string, defaults: { fileName?: string; description?: string; boot?: BootInfo; nitro?: NitroFinding[] }): AmiForm {
  let f = forms.get(snapshotId);
  if (!f) forms.set(snapshotId, (f = new AmiForm(snapshotId, defaults)));
  return f;
}
