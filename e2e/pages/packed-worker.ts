// Test module worker: opens the posted File through its containers (gzip, xz, zstd, bzip2, tar, zip), unpacking to
// OPFS where needed (or, asked for `streamed`, reads the disk out of its decompressor as an upload worker does), and
// returns the upload manifest and the container chain, for e2e/images-packed.spec.ts.
import { blobSource } from '../../src/images/blob-source.ts';
import { openPackedImage } from '../../src/images/open-packed-image.ts';
import { buildManifest } from '../../src/images/manifest.ts';
import { routeDisk } from '../../src/images/disk-route.ts';
import { streamedImage } from '../../src/images/streamed-raw.ts';
import { ImageFormatError } from '../../src/images/types.ts';
import { opfsSpool } from '../../src/engine/browser/opfs-spool.ts';

self.onmessage = async (e: MessageEvent<{ file: File; streamed?: boolean }>) => {
  const spool = opfsSpool();
  let unpacked = 0;
  try {
    if (e.data.streamed) {
      // As an upload worker reads a streamed disk: routed, then decoded front to back as blocks are asked for.
      const src = blobSource(e.data.file);
      const route = await routeDisk(src);
      if (route.path !== 'streamed') throw new Error(`the route is ${route.path}, not streamed`);
      const image = streamedImage(src, route.steps, route.size);
      const manifest = await buildManifest(image);
      await image.close();
      self.postMessage({ ok: true, manifest, container: route.container, path: route.path, opened: image.opened, unpacked });
      return;
    }
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
