#!/usr/bin/env node
// `npm test`: the type checks, the unit tests (Vitest) and the browser tests (Playwright) run side by side. Most of
// their time is spent waiting on the servers, browsers, boto3 and qemu-img they start, not on the cores, so together
// they take about as long as the browser tests alone. The browser tests print as they run; the type checks' and the
// unit tests' output is printed whole when each ends, so the log reads as three separate runs. The exit status is
// non-zero when any of them failed. `npm test -- --serial` runs them one after the other, as before.
import { spawn } from 'node:child_process';

const serial = process.argv.includes('--serial');
const suites = [
  { name: 'type checks', args: ['run', 'check'], live: false },
  { name: 'unit tests', args: ['run', 'test:unit'], live: false },
  { name: 'browser tests', args: ['run', 'test:e2e'], live: true },
];

function run(suite) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('npm', suite.args, { stdio: suite.live || serial ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout?.on('data', (c) => chunks.push(c));
    child.stderr?.on('data', (c) => chunks.push(c));
    child.on('error', (e) => chunks.push(Buffer.from(`${e.message}\n`)));
    child.on('close', (code, signal) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      const status = code === 0 ? 'passed' : `failed (${signal ?? `exit ${code}`})`;
      if (chunks.length > 0) {
        process.stdout.write(`\n──── ${suite.name}: output ────\n`);
        process.stdout.write(Buffer.concat(chunks));
      }
      process.stdout.write(`──── ${suite.name}: ${status} in ${seconds} s ────\n`);
      resolve(code === 0);
    });
  });
}

let results;
if (serial) {
  results = [];
  for (const suite of suites) {
    const ok = await run(suite);
    results.push(ok);
    if (!ok) break;
  }
} else {
  results = await Promise.all(suites.map(run));
}
const failed = suites.filter((_, i) => results[i] === false).map((s) => s.name);
if (failed.length > 0) {
  process.stdout.write(`\nFailed: ${failed.join(', ')}.\n`);
  process.exit(1);
}
process.stdout.write('\nAll passed: type checks, unit tests and browser tests.\n');
