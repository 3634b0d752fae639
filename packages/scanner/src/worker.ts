// A scanning worker thread: loads its own tree-sitter parser, then scans the batches of files it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import type { LintConfig } from './config.js';
import { loadCParser, type ParserBackend } from './parser.js';
import { compileConfig } from './scan.js';
import { scanPath } from './scanfile.js';

export interface WorkerInit {
  config: LintConfig;
  parser: ParserBackend;
}

export type WorkerRequest = { id: number; files: { path: string; name: string }[] };
export type WorkerReply =
  | { type: 'ready'; backend: ParserBackend; fallbackReason?: string }
  | { type: 'done'; id: number; results: ReturnType<typeof scanPath>[] }
  | { type: 'error'; message: string };

const port = parentPort!;
const init = workerData as WorkerInit;
try {
  const parser = await loadCParser(init.parser);
  const cc = compileConfig(init.config);
  port.on('message', (req: WorkerRequest) => {
    try {
      const results = req.files.map((f) => scanPath(f.path, f.name, parser, cc));
      port.postMessage({ type: 'done', id: req.id, results } satisfies WorkerReply);
    } catch (err) {
      port.postMessage({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) } satisfies WorkerReply);
    }
  });
  port.postMessage({ type: 'ready', backend: parser.backend, ...(parser.fallbackReason ? { fallbackReason: parser.fallbackReason } : {}) } satisfies WorkerReply);
} catch (err) {
  port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies WorkerReply);
}
