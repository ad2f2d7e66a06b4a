// What the image worker exposes over comlink: how a disk boots (its partition table, EFI system partition and root file
// system read through the format readers), the disk inside a packed file (and how it will be read), and unpacking it to
// OPFS where it must be read at random. Reading and decoding happen here, never on the page's thread.
import { releaseProxy } from 'comlink';
import { blobSource } from '../../images/blob-source.ts';
import { openImage } from '../../images/open-image.ts';
import { routeDisk, type DiskRoute } from '../../images/disk-route.ts';
import { unwrapContainers, type ContainerKind } from '../../images/containers.ts';
import { openSteps, streamedHeadImage } from '../../images/streamed-raw.ts';
import { detectBoot, type BootInfo } from '../../images/boot/detect-boot.ts';
import { checkNitro, type NitroFinding } from '../../images/boot/nitro-check.ts';
import { ImageFormatError } from '../../images/types.ts';
import { opfsSpool } from './opfs-spool.ts';

/** How a disk boots and what Nitro would make of it; either is absent where it could not be read. */
export interface BootFindings {
  boot?: BootInfo;
  nitro?: NitroFinding[];
}

/** An error as it crosses back to the page: its sentence, and the fields the page tells apart. */
export interface WorkerError {
  name: string;
  message: string;
  code?: string;
}

/** The route of a packed file, with how a streamed disk boots (read from its first bytes). */
export interface RoutedPacked {
  route: DiskRoute;
  boot?: BootInfo;
  nitro?: NitroFinding[];
}

/** A disk unpacked to OPFS: a File over it, and what was peeled off. */
export interface UnpackedDisk {
  disk: File;
  container: ContainerKind[];
  notices: string[];
}

/** Errors are thrown as plain objects rejected to the page, which rebuilds the ImageFormatError. */
function plain(err: unknown): WorkerError {
  const e = err as { name?: string; message?: string; code?: string };
  return { name: err instanceof ImageFormatError ? 'ImageFormatError' : (e.name ?? 'Error'), message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) };
}

function release(f: unknown): void {
  (f as { [releaseProxy]?: () => void } | undefined)?.[releaseProxy]?.();
}

/** Creates the API object the packed-image worker exposes (also usable in-process). */
export function createPackedWorkerApi() {
  return {
    /** How the disk in `file` (any format the readers know, not packed) boots, read through its format reader. */
    async boot(file: Blob): Promise<BootFindings | WorkerError> {
      try {
        const image = await openImage(blobSource(file));
        const boot = await detectBoot(image).catch(() => undefined);
        const nitro = await checkNitro(image).catch(() => undefined);
        return { ...(boot ? { boot } : {}), ...(nitro ? { nitro } : {}) };
      } catch (err) {
        return plain(err);
      }
    },

    /** Finds the disk in `file` and how it will be read; a stream whose size nothing declares is measured (progress 0–1). */
    async route(file: Blob, progress?: (fraction: number) => void): Promise<RoutedPacked | WorkerError> {
      try {
        let last = -1;
        const route = await routeDisk(blobSource(file), {
          progress: (f) => {
            const pct = Math.floor(f * 100);
            if (pct !== last) void progress?.((last = pct) / 100);
          },
        });
        if (route.path !== 'streamed') return { route };
        // How a streamed disk boots is read from its first 64 MiB (partition table, EFI system partition).
        const head = streamedHeadImage(() => openSteps(blobSource(file), route.steps), route.size);
        try {
          const boot = await detectBoot(head).catch(() => undefined);
          const nitro = await checkNitro(head).catch(() => undefined);
          return { route, ...(boot ? { boot } : {}), ...(nitro ? { nitro } : {}) };
        } finally {
          await head.close();
        }
      } catch (err) {
        return plain(err);
      } finally {
        release(progress);
      }
    },

    /**
     * Unpacks the disk in `file` to OPFS, kept under `key` (the file's fingerprint) so a resume finds it whole and
     * decodes nothing again. Progress: the share done (0–1).
     */
    async unpack(file: Blob, key: string, progress?: (fraction: number) => void): Promise<UnpackedDisk | WorkerError> {
      try {
        let last = -1;
        const spool = opfsSpool({ key });
        const unwrapped = await unwrapContainers(blobSource(file), {
          spool,
          progress: (_what, _written, _declared, fraction) => {
            const pct = Math.floor(fraction * 100);
            if (pct !== last) void progress?.((last = pct) / 100);
          },
        });
        const src = unwrapped.source;
        if (!src.slice) throw new Error('the unpacked disk is not a file');
        return { disk: new File([src.slice(0, src.size)], file instanceof File ? file.name : 'disk'), container: unwrapped.container, notices: unwrapped.notices };
      } catch (err) {
        return plain(err);
      } finally {
        release(progress);
      }
    },
  };
}

/** The worker API type (comlink Remote<PackedWorkerApi> on the main thread). */
export type PackedWorkerApi = ReturnType<typeof createPackedWorkerApi>;
