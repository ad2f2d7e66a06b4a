// Test kit: open an image file as the product does and read it through, to see whether and when it is refused.
import { expect } from 'vitest';
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

/** What a refusal must be: its code, the format that refused, the sentence, and whether it came once reading began. */
export interface ExpectedRefusal {
  code: string;
  format: string;
  says: RegExp;
  onRead: boolean;
}

/** Asserts that the image `name` was refused as `want` says. */
export function expectRefusal(e: Refused | undefined, name: string, want: ExpectedRefusal): void {
  expect(e, `${name} was read without complaint`).toBeInstanceOf(ImageFormatError);
  expect({ code: e!.code, format: e!.format, onRead: e!.duringRead }).toEqual({ code: want.code, format: want.format, onRead: want.onRead });
  expect(e!.message).toMatch(want.says);
}
