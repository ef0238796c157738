/**
 * Runs the benchmarks in bench/ and prints a table; writes bench/results.json.
 *
 *   npm run bench                       # every benchmark
 *   npm run bench -- plan-quality       # only these
 *   npm run bench -- --quick --seed 7   # a smaller run, another seed
 *
 * A benchmark is any bench/*.ts module (other than this one) exporting `benchmark: Benchmark` (bench/lib/bench.ts).
 * results.json keeps the last result of every benchmark: running some replaces only theirs.
 *
 * Each benchmark runs in a Node process of its own (this file again, with `--child NAME`), so none measures the heap,
 * the compiled code or the leftovers of the ones before it: the figures are those of a fresh process, whatever ran
 * first and whether it ran alone or with the others.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Benchmark, BenchResult, BenchTarget } from './lib/bench.ts';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const resultsPath = join(benchDir, 'results.json');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const seed = args.includes('--seed') ? Number(flagValue('--seed')) : 20_260_101;
const valueFlags = new Set(['--seed', '--child', '--result-file']);
const names = args.filter((a, i) => !a.startsWith('--') && !valueFlags.has(args[i - 1] ?? ''));

/** The value after `flag` in the arguments. */
function flagValue(flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

/** Every benchmark module's `benchmark`, by file name order. */
async function discover(): Promise<Map<string, Benchmark>> {
  const found = new Map<string, Benchmark>();
  const modules = readdirSync(benchDir)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
    .sort();
  for (const file of modules) {
    const mod = (await import(pathToFileURL(join(benchDir, file)).href)) as { benchmark?: Benchmark };
    if (mod.benchmark) found.set(mod.benchmark.name, mod.benchmark);
  }
  return found;
}

const child = flagValue('--child');
if (child !== undefined) {
  // A child: runs the one benchmark and writes its result where the parent said.
  const benchmark = (await discover()).get(child);
  if (!benchmark) throw new Error(`no benchmark named ${child}`);
  const result = await benchmark.run({ log: (line) => console.error(line), seed, quick });
  writeFileSync(flagValue('--result-file')!, JSON.stringify(result));
  process.exit(0);
}

const all = await discover();
const benchmarks = [...all.values()].filter((b) => names.length === 0 || names.includes(b.name));
const unknown = names.filter((n) => !all.has(n));
if (benchmarks.length === 0 || unknown.length > 0) {
  console.error(
    `no benchmark named ${unknown.join(', ') || names.join(', ')}; there are: ${[...all.keys()].join(', ')}`,
  );
  process.exit(2);
}

/** Runs `name` in a fresh Node process (its progress lines on this stderr) and returns its result. */
async function runInChild(name: string): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-bench-'));
  const resultFile = join(dir, 'result.json');
  try {
    const childArgs = [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--child',
      name,
      '--result-file',
      resultFile,
    ];
    childArgs.push('--seed', String(seed), ...(quick ? ['--quick'] : []));
    const proc = spawn(process.execPath, childArgs, { stdio: ['ignore', 'inherit', 'inherit'] });
    const code = await new Promise<number | null>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('exit', (exitCode, signal) => resolve(signal ? null : exitCode));
    });
    if (code !== 0 || !existsSync(resultFile))
      throw new Error(`benchmark ${name} failed (exit ${code ?? 'by signal'})`);
    return JSON.parse(readFileSync(resultFile, 'utf8')) as BenchResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const previous = existsSync(resultsPath)
  ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as { benchmarks?: Record<string, unknown> })
  : {};
const results: Record<string, unknown> = { ...previous.benchmarks };
const table: string[][] = [['benchmark', 'metric', 'value', 'target']];
let missed = 0;
const failed: string[] = [];
for (const b of benchmarks) {
  console.error(`running ${b.name}: ${b.description}`);
  const started = performance.now();
  let result: BenchResult;
  try {
    result = await runInChild(b.name);
  } catch (err) {
    // One benchmark's failure does not cost the others' figures: it is reported, results.json keeps its last
    // result, and the run exits 1 at the end.
    console.error(`  ${err instanceof Error ? err.message : String(err)}`);
    failed.push(b.name);
    table.push([b.name, 'FAILED', '', '']);
    continue;
  }
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
if (failed.length > 0) {
  console.error(`failed: ${failed.join(', ')} (their last results in ${resultsPath} are kept)`);
  process.exitCode = 1;
}

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
