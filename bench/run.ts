/**
 * Runs the benchmarks in bench/ and prints a table; writes bench/results.json.
 *
 *   npm run bench                       # every benchmark
 *   npm run bench -- plan-quality       # only these
 *   npm run bench -- --quick --seed 7   # a smaller run, another seed
 *
 * A benchmark is any bench/*.ts module (other than this one) exporting `benchmark: Benchmark` (bench/lib/bench.ts).
 * results.json keeps the last result of every benchmark: running some replaces only theirs.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Benchmark, BenchResult, BenchTarget } from './lib/bench.ts';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const resultsPath = join(benchDir, 'results.json');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : 20_260_101;
const names = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--seed');

const modules = readdirSync(benchDir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .sort();
const benchmarks: Benchmark[] = [];
for (const file of modules) {
  const mod = (await import(pathToFileURL(join(benchDir, file)).href)) as { benchmark?: Benchmark };
  if (mod.benchmark && (names.length === 0 || names.includes(mod.benchmark.name))) benchmarks.push(mod.benchmark);
}
if (benchmarks.length === 0) {
  console.error(`no benchmark matches ${names.join(', ')}`);
  process.exit(2);
}

const previous = existsSync(resultsPath)
  ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as { benchmarks?: Record<string, unknown> })
  : {};
const results: Record<string, unknown> = { ...previous.benchmarks };
const table: string[][] = [['benchmark', 'metric', 'value', 'target']];
let missed = 0;
for (const b of benchmarks) {
  console.error(`running ${b.name}: ${b.description}`);
  const started = performance.now();
  const result: BenchResult = await b.run({ log: (line) => console.error(line), seed, quick });
  const seconds = (performance.now() - started) / 1000;
  results[b.name] = { ...result, seconds: Math.round(seconds * 10) / 10, seed, quick };
  for (const [metric, value] of Object.entries(result.metrics)) {
    const target = result.targets?.find((t) => t.metric === metric);
    const verdict = target ? describe(target, value) : '';
    if (verdict.startsWith('MISSED')) missed++;
    table.push([b.name, metric, String(value), verdict]);
  }
  table.push([b.name, 'seconds', seconds.toFixed(1), '']);
}
writeFileSync(resultsPath, `${JSON.stringify({ benchmarks: results }, null, 2)}\n`);
printTable(table);
console.log(`\nwrote ${resultsPath}${missed ? `; ${missed} target(s) missed` : ''}`);

function describe(target: BenchTarget, value: number | string): string {
  const v = Number(value);
  const ok = (target.max === undefined || v <= target.max) && (target.min === undefined || v >= target.min);
  const bound = [target.max !== undefined ? `<= ${target.max}` : '', target.min !== undefined ? `>= ${target.min}` : '']
    .filter(Boolean)
    .join(', ');
  return `${ok ? 'met' : 'MISSED'} (${bound})`;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(
      row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    );
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
