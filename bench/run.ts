// Runs bench/*.bench.ts (or those named on the command line), prints a table, writes bench/results/latest.md.
import { readdir, mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { cpus } from 'node:os';
import type { Bench, BenchRow } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** A Markdown table of the rows. */
export function table(rows: BenchRow[]): string {
  const out = ['| group | measure | value | ceiling | ratio | aim |', '|---|---|---:|---|---:|---|'];
  for (const r of rows) {
    const ceiling = r.ceiling ? `${r.ceiling.name}: ${fmt(r.ceiling.value)} ${r.unit}` : '';
    const ratio = r.ceiling && r.ceiling.value > 0 ? fmt(r.value / r.ceiling.value) : '';
    const name = r.note ? `${r.name} (${r.note})` : r.name;
    out.push(`| ${r.group} | ${name} | ${fmt(r.value)} ${r.unit} | ${ceiling} | ${ratio} | ${r.aim ?? ''} |`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const files = (await readdir(here)).filter((f) => f.endsWith('.bench.ts')).sort();
  const chosen = wanted.length ? files.filter((f) => wanted.some((w) => f.startsWith(w))) : files;
  if (!chosen.length) {
    console.error(`no bench matches ${wanted.join(', ')}; have: ${files.join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const rows: BenchRow[] = [];
  for (const f of chosen) {
    console.error(`# ${f}`);
    const mod = (await import(join(here, f))) as { default: Bench };
    try {
      const got = await mod.default();
      for (const r of got) console.error(`  ${r.name}: ${fmt(r.value)} ${r.unit}`);
      rows.push(...got);
    } catch (err) {
      console.error(`  ${f} failed: ${(err as Error).stack ?? err}`);
    }
  }
  const md = table(rows);
  console.log(md);
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const header = `Measured ${when} UTC on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, headless Chromium (Debian).`;
  await mkdir(join(here, 'results'), { recursive: true });
  if (!wanted.length) await writeFile(join(here, 'results', 'latest.md'), `${header}\n\n${md}\n`);
  else await writeFile(join(here, 'results', `${chosen.map((f) => f.replace('.bench.ts', '')).join('+')}.md`), `${header}\n\n${md}\n`);
}

await main();
