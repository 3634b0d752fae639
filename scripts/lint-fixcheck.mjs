#!/usr/bin/env node
// Applies `previrt lint --fix` in memory to every file under a directory (nothing is written) and
// checks that each fix reaches a fixed point (a second fix changes nothing, no fixable finding
// remains), reporting the files whose tree-sitter parse has more ERROR nodes afterwards (tree-sitter
// already fails on some kernel idioms such as `(void __iomem *)` casts, so this is a pointer for a
// human look, not a verdict). Not part of CI; used on Linux 6.1 drivers/.
//   node scripts/lint-fixcheck.mjs <dir> [--verbose]
import { readFileSync } from 'node:fs';
import {
  applyTreeFacts, collectFiles, compileConfig, defaultConfig, fixText, loadCParser, scanSource, treeFacts,
} from '../packages/scanner/dist/index.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/lint-fixcheck.mjs <dir> [--verbose]');
  process.exit(2);
}
const verbose = process.argv.includes('--verbose');
const config = defaultConfig();
config.gitignore = false;
const files = await collectFiles([dir], config, process.cwd());
const parser = await loadCParser('native');
const cc = compileConfig(config);
const texts = files.map((f) => readFileSync(f, 'utf8'));
const scans = files.map((f, i) => scanSource(f, texts[i], parser, cc));
const facts = treeFacts(scans);
const errors = (t) => {
  let n = 0;
  const walk = (x) => {
    if (!x.hasError) return;
    if (x.type === 'ERROR' || x.isMissing) n++;
    for (let i = 0; i < x.childCount; i++) walk(x.child(i));
  };
  walk(parser.parse(t).rootNode);
  return n;
};
let fixedFiles = 0;
let fixes = 0;
let notIdempotent = 0;
let leftFixable = 0;
const worse = [];
for (let i = 0; i < files.length; i++) {
  const s = applyTreeFacts(scans[i], facts);
  if (!s.findings.some((f) => f.fix && !f.suppressed)) continue;
  const r = fixText(files[i], texts[i], s, parser, config, facts);
  if (r.text === texts[i]) continue;
  fixedFiles++;
  fixes += s.findings.filter((f) => f.fix && !f.suppressed).length;
  leftFixable += r.scan.findings.filter((f) => f.fix && !f.suppressed).length;
  if (fixText(files[i], r.text, r.scan, parser, config, facts).text !== r.text) notIdempotent++;
  const before = errors(texts[i]);
  const after = errors(r.text);
  if (after > before) worse.push(`${files[i]}: ${before} -> ${after} parse errors`);
}
console.log(`files ${files.length}, fixed ${fixedFiles}, fixes ${fixes}, not idempotent ${notIdempotent}, fixable left ${leftFixable}, parse errors grew in ${worse.length}`);
if (verbose) for (const w of worse) console.log(`  ${w}`);
process.exit(notIdempotent > 0 || leftFixable > 0 ? 1 : 0);
