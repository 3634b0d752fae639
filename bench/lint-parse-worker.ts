// Worker of bench/lint.ts: the raw tree-sitter parse of files (read, decode, parse), the baseline the
// scanner is measured against. Uses the scanner's own parser loader so both sides parse alike.
import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { loadCParser } from '@previrt/scanner';

const parser = await loadCParser('native');
parentPort!.on('message', (files: string[]) => {
  let bytes = 0;
  for (const f of files) {
    const buf = readFileSync(f);
    bytes += buf.length;
    const tree = parser.parse(buf.toString('utf8'));
    if (!tree.rootNode) throw new Error(`${f}: no tree`);
  }
  parentPort!.postMessage(bytes);
});
parentPort!.postMessage('ready');
