// Test kit: open an image file as the product does and read it through, to see whether and when it is refused.
import { fileSource } from '../../../cli/node-source.ts';
import { openImage } from '../open-image.ts';
import { BlockState, ImageFormatError } from '../types.ts';

export type Refused = ImageFormatError & { duringRead: boolean };

/**
 * Opens the image at `path` and reads it: `every` block in runs of 16, or only the blocks its tables say hold
 * something (`allocated`, one by one). Returns the ImageFormatError it was refused with (`duringRead` when it came
 * after open), or undefined when it was read without complaint. Any other error is thrown.
 */
export async function refusalOf(path: string, read: 'every' | 'allocated'): Promise<Refused | undefined> {
  const src = await fileSource(path);
  let duringRead = false;
  try {
    const image = await openImage(src);
    duringRead = true;
    const states = await image.blockStates();
    for (let b = 0; b < image.blockCount; b += read === 'every' ? 16 : 1) {
      if (read === 'every') await image.readBlocks(b, Math.min(16, image.blockCount - b));
      else if (states[b] !== BlockState.Unallocated) await image.readBlocks(b, 1);
    }
    return undefined;
  } catch (err) {
    if (!(err instanceof ImageFormatError)) throw err;
    return Object.assign(err, { duringRead });
  } finally {
    await src.close();
  }
}
