// Benchmark: `previrt lint` throughput (MB of C per second) next to tree-sitter's raw parse of the same
// files with the same number of worker threads, measured in one run, alternating the two so that the
// machine's load hits both alike. Target: the scanner at >= 70% of raw parse throughput.
//
//   scripts/bench-lint.sh [--jobs N] [--rounds N] [--sample K] [paths...]
//
// Default corpus: Linux 6.1 arch/x86 and every K-th file (K=10) of drivers/ (scripts/lint-linux.sh
// unpacks them), else fixtures/.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { collectFiles, defaultConfig, scanFiles } from '@previrt/scanner';

const args = process.argv.slice(2);
function option(name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a positive whole number`);
  return v;
}
const jobs = option('--jobs', availableParallelism());
const rounds = option('--rounds', 2);
const sample = option('--sample', 10);
const linux = process.env.LINUX_SRC_DIR ? join(process.env.LINUX_SRC_DIR, 'linux-source-6.1') : '/work/linux-src/linux-source-6.1';

async function corpus(): Promise<string[]> {
  const config = defaultConfig();
  config.include = ['**/*.c', '**/*.h'];
  config.gitignore = false;
  if (args.length > 0) return collectFiles(args, config, process.cwd());
  if (existsSync(join(linux, 'arch/x86')) && existsSync(join(linux, 'drivers'))) {
    const x86 = await collectFiles([join(linux, 'arch/x86')], config, process.cwd());
    const drivers = (await collectFiles([join(linux, 'drivers')], config, process.cwd())).filter((_, i) => i % sample === 0);
    return [...x86, ...drivers];
  }
  return collectFiles([join(import.meta.dirname ?? '.', '../../fixtures')], config, process.cwd());
}

/** The raw parse of every file by `jobs` workers fed batches, as the scanner's pool does. */
async function rawParse(files: string[]): Promise<number> {
  const url = new URL('./lint-parse-worker.js', import.meta.url);
  const batch = Math.max(1, Math.min(32, Math.floor(files.length / (jobs * 16))));
  let next = 0;
  let bytes = 0;
  await Promise.all(Array.from({ length: jobs }, () => new Promise<void>((resolve, reject) => {
    const w = new Worker(url);
    const feed = () => {
      if (next >= files.length) {
        void w.terminate().then(() => resolve());
        return;
      }
      const slice = files.slice(next, next + batch);
      next += batch;
      w.postMessage(slice);
    };
    w.on('message', (m: number | 'ready') => {
      if (m !== 'ready') bytes += m;
      feed();
    });
    w.on('error', reject);
  })));
  return bytes;
}

async function scan(files: string[]): Promise<number> {
  const r = await scanFiles(files.map((path) => ({ path, name: path })), { config: defaultConfig(), jobs });
  return r.scans.reduce((a, s) => a + s.bytes, 0);
}

interface Sample { wall: number; cpu: number; bytes: number }

async function measure(fn: () => Promise<number>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const bytes = await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, bytes };
}

const files = await corpus();
console.log(`corpus: ${files.length} files; ${jobs} worker thread${jobs === 1 ? '' : 's'}; ${rounds} alternating rounds`);
const raw: Sample[] = [];
const lint: Sample[] = [];
for (let r = 0; r < rounds; r++) {
  raw.push(await measure(() => rawParse(files)));
  lint.push(await measure(() => scan(files)));
  const a = raw[r]!;
  const b = lint[r]!;
  console.log(`round ${r + 1}: raw parse ${(a.bytes / 1e6 / a.wall).toFixed(2)} MB/s (${a.wall.toFixed(1)} s, cpu ${a.cpu.toFixed(1)} s)   `
    + `scanner ${(b.bytes / 1e6 / b.wall).toFixed(2)} MB/s (${b.wall.toFixed(1)} s, cpu ${b.cpu.toFixed(1)} s)   `
    + `ratio ${(a.wall / b.wall * 100).toFixed(0)}% wall, ${(a.cpu / b.cpu * 100).toFixed(0)}% cpu`);
}
const best = (s: Sample[], key: 'wall' | 'cpu') => Math.min(...s.map((x) => x[key]));
const mb = raw[0]!.bytes / 1e6;
if (raw[0]!.bytes !== lint[0]!.bytes) throw new Error(`the two sides read different bytes (${raw[0]!.bytes} vs ${lint[0]!.bytes})`);
console.log(`\n                     raw tree-sitter parse   previrt lint scanner   scanner / raw`);
console.log(`MB of C             ${mb.toFixed(1).padStart(22)} ${mb.toFixed(1).padStart(22)}`);
console.log(`best wall MB/s      ${(mb / best(raw, 'wall')).toFixed(2).padStart(22)} ${(mb / best(lint, 'wall')).toFixed(2).padStart(22)} ${(best(raw, 'wall') / best(lint, 'wall') * 100).toFixed(0).padStart(14)}%`);
console.log(`best cpu-s MB/s     ${(mb / best(raw, 'cpu')).toFixed(2).padStart(22)} ${(mb / best(lint, 'cpu')).toFixed(2).padStart(22)} ${(best(raw, 'cpu') / best(lint, 'cpu') * 100).toFixed(0).padStart(14)}%`);
console.log(`cores used (cpu/wall) ${(raw[0]!.cpu / raw[0]!.wall).toFixed(2).padStart(20)} ${(lint[0]!.cpu / lint[0]!.wall).toFixed(2).padStart(22)}`);
console.log(`target: scanner >= 70% of raw parse throughput with ${jobs} workers`);
