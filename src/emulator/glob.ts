// EC2 filter wildcards (`*` any run, `?` one character) matched without regular expressions: the pattern is cut at
// its stars and each piece found leftmost in turn, so the work is bounded by pattern × value length, never exponential.

/** Counts character comparisons, for tests that show the work stays bounded. */
export interface GlobSteps {
  n: number;
}

/** Whether `piece` (with `?` as any one character) matches `value` at `at`. */
function pieceAt(piece: string, value: string, at: number, steps?: GlobSteps): boolean {
  if (at + piece.length > value.length) return false;
  for (let i = 0; i < piece.length; i++) {
    if (steps) steps.n++;
    const c = piece.charCodeAt(i);
    if (c !== 63 /* ? */ && c !== value.charCodeAt(at + i)) return false;
  }
  return true;
}

/** Leftmost position ≥ `from` where `piece` matches, or -1. */
function findPiece(piece: string, value: string, from: number, steps?: GlobSteps): number {
  for (let at = from; at + piece.length <= value.length; at++) if (pieceAt(piece, value, at, steps)) return at;
  return -1;
}

/** True when `value` matches the EC2 filter pattern (no wildcard: equality). */
export function globMatch(pattern: string, value: string, steps?: GlobSteps): boolean {
  if (!pattern.includes('*')) return pattern.length === value.length && pieceAt(pattern, value, 0, steps);
  const pieces = pattern.split('*');
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  if (first.length + last.length > value.length) return false;
  if (!pieceAt(first, value, 0, steps) || !pieceAt(last, value, value.length - last.length, steps)) return false;
  // Greedy leftmost placement of the middle pieces is optimal: any later match leaves less room for the rest.
  let pos = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    if (!piece) continue;
    const at = findPiece(piece, value.slice(0, end), pos, steps);
    if (at < 0) return false;
    pos = at + piece.length;
  }
  return true;
}
