// Scanning many files: worker threads (one per core by default), each with its own parser, fed small
// batches so that a few large files do not leave a core idle at the end. (An I/O edge of the scanner.)
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { LintConfig } from './config.js';
import { loadCParser, type ParserBackend } from './parser.js';
import { compileConfig, type FileScan } from './scan.js';
import { scanPath } from './scanfile.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker.js';

export interface ScanFilesOptions {
  config: LintConfig;
  /** Worker threads; 1 scans in this thread. Default: one per core. */
  jobs?: number;
  parser?: ParserBackend;
  /** Called after each batch with the files done so far, the total, and the bytes scanned. */
  onProgress?: (done: number, total: number, bytes: number) => void;
}

export interface ScanFilesResult {
  scans: FileScan[];
  backend: ParserBackend;
  fallbackReason?: string;
  jobs: number;
}

export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/** The compiled worker script: next to this module, or in dist/ when this module runs from source (tests). */
function workerUrl(): URL {
  return import.meta.url.endsWith('.ts') ? new URL('../dist/worker.js', import.meta.url) : new URL('./worker.js', import.meta.url);
}

/** Scans `files` (absolute path and the name to report it by); results in the same order. */
export async function scanFiles(files: readonly { path: string; name: string }[], opts: ScanFilesOptions): Promise<ScanFilesResult> {
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultJobs(), Math.ceil(files.length / 2)));
  if (jobs <= 1) {
    const parser = await loadCParser(opts.parser ?? 'native');
    const cc = compileConfig(opts.config);
    const scans: FileScan[] = [];
    let bytes = 0;
    for (const f of files) {
      const s = scanPath(f.path, f.name, parser, cc);
      bytes += s.bytes;
      scans.push(s);
      if (opts.onProgress && (scans.length % 16 === 0 || scans.length === files.length)) opts.onProgress(scans.length, files.length, bytes);
    }
    return { scans, backend: parser.backend, ...(parser.fallbackReason ? { fallbackReason: parser.fallbackReason } : {}), jobs: 1 };
  }

  const batchSize = Math.max(1, Math.min(32, Math.floor(files.length / (jobs * 16))));
  const results = new Array<FileScan | undefined>(files.length);
  let next = 0;
  let done = 0;
  let bytes = 0;
  let backend: ParserBackend = opts.parser ?? 'native';
  let fallbackReason: string | undefined;
  const init: WorkerInit = { config: opts.config, parser: opts.parser ?? 'native' };

  await new Promise<void>((resolveAll, rejectAll) => {
    const workers: Worker[] = [];
    let failed = false;
    let finished = 0;
    const fail = (message: string) => {
      if (failed) return;
      failed = true;
      for (const w of workers) void w.terminate();
      rejectAll(new Error(`scanner worker failed: ${message}`));
    };
    const feed = (w: Worker, pending: Map<number, number>) => {
      if (next >= files.length) {
        void w.terminate();
        finished++;
        if (finished === workers.length && done === files.length) resolveAll();
        return;
      }
      const start = next;
      const end = Math.min(files.length, start + batchSize);
      next = end;
      pending.set(start, end);
      const req: WorkerRequest = { id: start, files: files.slice(start, end) };
      w.postMessage(req);
    };
    for (let i = 0; i < jobs; i++) {
      const w = new Worker(workerUrl(), { workerData: init });
      const pending = new Map<number, number>();
      workers.push(w);
      w.on('message', (msg: WorkerReply) => {
        if (msg.type === 'error') return fail(msg.message);
        if (msg.type === 'ready') {
          backend = msg.backend;
          if (msg.fallbackReason) fallbackReason = msg.fallbackReason;
          feed(w, pending);
          return;
        }
        const end = pending.get(msg.id)!;
        pending.delete(msg.id);
        for (let k = msg.id; k < end; k++) {
          const r = msg.results[k - msg.id]!;
          results[k] = r;
          bytes += r.bytes;
        }
        done += end - msg.id;
        opts.onProgress?.(done, files.length, bytes);
        feed(w, pending);
      });
      w.on('error', (err) => fail(err.message));
      w.on('exit', (code) => {
        if (code !== 0 && !failed && next < files.length) fail(`exited with code ${code}`);
      });
    }
  });
  return { scans: results as FileScan[], backend, ...(fallbackReason ? { fallbackReason } : {}), jobs };
}
