// Test module worker: opens the posted File through its containers (gzip, xz, zstd, bzip2, tar, zip), unpacking to
// OPFS where needed, and returns the upload manifest and the container chain, for e2e/images-packed.spec.ts.
import { blobSource } from '../../src/images/blob-source.ts';
import { openPackedImage } from '../../src/images/open-packed-image.ts';
import { buildManifest } from '../../src/images/manifest.ts';
import { ImageFormatError } from '../../src/images/types.ts';
import { opfsSpool } from '../../src/engine/browser/opfs-spool.ts';

self.onmessage = async (e: MessageEvent<{ file: File }>) => {
  const spool = opfsSpool();
  let unpacked = 0;
  try {
    const image = await openPackedImage(blobSource(e.data.file), { spool, progress: (_what, written) => void (unpacked = written) });
    const manifest = await buildManifest(image);
    self.postMessage({ ok: true, manifest, container: image.container, notices: image.notices, unpacked });
  } catch (err) {
    const e2 = err as Error;
    self.postMessage({ ok: false, isImageFormatError: err instanceof ImageFormatError, code: (err as ImageFormatError).code, message: e2.message });
  } finally {
    await spool.dispose();
  }
};
