// `blockport diff <first-id> <second-id>`: ListChangedBlocks between two snapshots of one lineage.
import { compareSnapshots, sideOf, type Comparison } from '../../src/engine/compare.ts';
import { comparisonToCsv, comparisonToJson } from '../../src/engine/compare-export.ts';
import { checkSnapshotId, parseReadArgs, readClients, readErrorSentence, UsageError, type ReadFlags } from '../shared.ts';

export const usage = `Usage: blockport diff <first-snapshot-id> <second-snapshot-id> [options]

Lists the blocks that differ between two snapshots of one lineage (a snapshot and its descendants, or
siblings) with ListChangedBlocks: counts, changed bytes, and the blocks only in the first, only in the
second, and in both (written in both with different writes). Credentials come from the standard AWS chain.

Options:
  --endpoint URL      EBS endpoint, e.g. http://127.0.0.1:4566 for \`npm run emulator\`
  --region R          AWS Region (default: AWS_REGION / AWS_DEFAULT_REGION; us-east-1 with --endpoint)
  --json              print every changed block as JSON on stdout
  --csv               print every changed block as CSV on stdout (block_index,offset,side)
  --no-verify-ssl     accept a self-signed certificate (the emulator's --tls)
  --help              this text

Exit status: 0 when the snapshots were compared, 1 when the service refused (unrelated, not found), 2 for a bad command line.`;

interface Parsed extends ReadFlags {
  first: string;
  second: string;
  csv: boolean;
}

/** Parses the arguments of `diff`; throws UsageError with a sentence. */
export function parseDiffArgs(args: string[]): Parsed {
  const out: Parsed = { first: '', second: '', csv: false, verifySsl: true, progress: false, json: false };
  const positional = parseReadArgs('diff', args, out, (a) => {
    if (a !== '--csv') return false;
    out.csv = true;
    return true;
  });
  if (positional.length !== 2) throw new UsageError('Name two snapshots: blockport diff <first-snapshot-id> <second-snapshot-id>.');
  if (out.json && out.csv) throw new UsageError('Choose one of --json and --csv.');
  out.first = checkSnapshotId(positional[0]!);
  out.second = checkSnapshotId(positional[1]!);
  return out;
}

/** Ascending indices as compact ranges: 1-3, 7, 9-10. */
export function ranges(indices: number[]): string {
  const out: string[] = [];
  for (let k = 0; k < indices.length; ) {
    let j = k;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    out.push(j === k ? `${indices[k]}` : `${indices[k]}-${indices[j]}`);
    k = j + 1;
  }
  return out.join(', ');
}

/** The human summary of a comparison. */
export function summary(c: Comparison): string {
  const by: Record<string, number[]> = { first: [], second: [], both: [] };
  c.indices.forEach((i, k) => by[sideOf(c.sides[k]!)]!.push(i));
  const mib = (n: number) => `${((n * c.blockSize) / 1048576).toFixed(1)} MiB`;
  return [
    `${c.firstSnapshotId} → ${c.secondSnapshotId} (volume ${c.volumeSize} GiB, blocks of ${c.blockSize} bytes)`,
    `changed blocks: ${c.counts.total} (${mib(c.counts.total)})`,
    `  only in the first:  ${c.counts.first}${by.first!.length ? `  [${ranges(by.first!)}]` : ''}`,
    `  only in the second: ${c.counts.second}${by.second!.length ? `  [${ranges(by.second!)}]` : ''}`,
    `  in both:            ${c.counts.both}${by.both!.length ? `  [${ranges(by.both!)}]` : ''}`,
  ].join('\n');
}

/** Runs `blockport diff`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let p: Parsed;
  let clients;
  try {
    p = parseDiffArgs(args);
    clients = await readClients(p, 4);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`blockport diff: ${err.message}`);
      return 2;
    }
    throw err;
  }
  try {
    const c = await compareSnapshots({ ebs: clients.ebs, firstSnapshotId: p.first, secondSnapshotId: p.second, lagMs: 30_000 });
    if (p.json) process.stdout.write(`${JSON.stringify(comparisonToJson(c), null, 1)}\n`);
    else if (p.csv) process.stdout.write(comparisonToCsv(c));
    else process.stdout.write(`${summary(c)}\n`);
    return 0;
  } catch (err) {
    console.error(`blockport diff: ${readErrorSentence(err)}`);
    return 1;
  } finally {
    clients.close();
  }
}
