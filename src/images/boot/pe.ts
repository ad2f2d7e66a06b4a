// The machine field of a PE/COFF image (an EFI loader): which CPU it was built for.
import { le } from './disk-reader.ts';

/** Architecture of a PE image's machine field, 'other' for one EC2 does not run, undefined when not PE. */
export function peMachine(b: Uint8Array): 'x86_64' | 'arm64' | 'other' | undefined {
  if (b.length < 64 || b[0] !== 0x4d || b[1] !== 0x5a) return undefined;
  const pe = le.u32(b, 0x3c);
  if (pe + 6 > b.length || b[pe] !== 0x50 || b[pe + 1] !== 0x45 || b[pe + 2] !== 0 || b[pe + 3] !== 0) return undefined;
  const machine = le.u16(b, pe + 4);
  return machine === 0x8664 ? 'x86_64' : machine === 0xaa64 ? 'arm64' : 'other';
}
