#!/usr/bin/env node
// The no-op guarantee at Linux scale: compares every object of the plain build with the same object
// of the hooked build. An object may differ only if the hooked one has records (.afterburn); any
// other difference breaks the guarantee and is listed. Usage: compare-objects.mjs <plain> <hooked>
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [plainDir, hookedDir] = process.argv.slice(2);
if (!plainDir || !hookedDir) {
  console.error('usage: compare-objects.mjs <plain build dir> <hooked build dir>');
  process.exit(2);
}

function* objects(dir, rel = '') {
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) yield* objects(dir, r);
    else if (e.isFile() && e.name.endsWith('.o')) yield r;
  }
}

function hasRecords(file) {
  const out = execFileSync('readelf', ['-SW', file], { encoding: 'utf8' });
  return /\s\.afterburn\s/.test(out);
}

let identical = 0;
let rewritten = 0;
let missing = 0;
const broken = [];
for (const rel of objects(plainDir)) {
  const a = path.join(plainDir, rel);
  const b = path.join(hookedDir, rel);
  if (!fs.existsSync(b)) { missing++; continue; }
  if (fs.readFileSync(a).equals(fs.readFileSync(b))) identical++;
  else if (hasRecords(b)) rewritten++;
  else broken.push(rel);
}
console.log(`objects: ${identical} byte-identical, ${rewritten} rewritten (have .afterburn), ${broken.length} differ without records, ${missing} missing in the hooked build`);
for (const rel of broken.slice(0, 20)) console.log(`  differs without records: ${rel}`);
process.exitCode = broken.length > 0 ? 1 : 0;
