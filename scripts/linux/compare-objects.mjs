#!/usr/bin/env node
// The no-op guarantee at Linux scale: compares every object of the plain build with the same object
// of the hooked build. An object may differ only if the hooked one has records (.afterburn or
// .afterburn_excluded), or if it
// is made from another build product that differs (kbuild's .<name>.o.cmd lists its dependencies:
// e.g. piggy.o holds the compressed vmlinux, misc.o includes voffset.h with vmlinux's symbols; and
// files its source .incbin's, like rmpiggy.o's realmode.bin). Any
// other difference breaks the guarantee and is listed.
// Usage: compare-objects.mjs <plain dir> <hooked dir> [<directory both were built in>]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [plainDir, hookedDir, builtIn] = process.argv.slice(2);
if (!plainDir || !hookedDir) {
  console.error('usage: compare-objects.mjs <plain build dir> <hooked build dir> [<build dir both were built in>]');
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
  // Sites (.afterburn) or instructions left alone between the exclusion markers (.afterburn_excluded).
  return /\s\.afterburn(_excluded)?\s/.test(execFileSync('readelf', ['-SW', file], { encoding: 'utf8' }));
}

function same(a, b) {
  try { return fs.readFileSync(a).equals(fs.readFileSync(b)); } catch { return false; }
}

/** Build products (not sources) this object was made from, per kbuild's .cmd file, relative to the build dir. */
function buildDependencies(rel) {
  const cmd = path.join(plainDir, path.dirname(rel), `.${path.basename(rel)}.cmd`);
  if (!fs.existsSync(cmd)) return [];
  const deps = [];
  const text = fs.readFileSync(cmd, 'utf8');
  // .incbin'd files are prerequisites in the Makefile, not in the compiler's dependency list.
  const source = /^source_\S+ := (\S+)/m.exec(text)?.[1];
  if (source && fs.existsSync(source)) {
    for (const m of fs.readFileSync(source, 'latin1').matchAll(/\.incbin\s+"([^"]+)"/g)) deps.push(m[1]);
  }
  for (const word of text.split(/[\s\\]+/)) {
    if (!word || word.includes('$(') || word.endsWith(':=') || word.startsWith('-')) continue;
    let d = word;
    if (builtIn && d.startsWith(`${builtIn}/`)) d = d.slice(builtIn.length + 1);
    else if (path.isAbsolute(d)) continue;
    if (d !== rel && fs.existsSync(path.join(plainDir, d)) && fs.statSync(path.join(plainDir, d)).isFile()) deps.push(d);
  }
  return deps.filter((d) => fs.existsSync(path.join(plainDir, d)));
}

let identical = 0;
let rewritten = 0;
let derived = 0;
let missing = 0;
const broken = [];
for (const rel of objects(plainDir)) {
  const a = path.join(plainDir, rel);
  const b = path.join(hookedDir, rel);
  if (!fs.existsSync(b)) { missing++; continue; }
  if (same(a, b)) identical++;
  else if (hasRecords(b)) rewritten++;
  else if (buildDependencies(rel).some((d) => !same(path.join(plainDir, d), path.join(hookedDir, d)))) derived++;
  else broken.push(rel);
}
console.log(`objects: ${identical} byte-identical, ${rewritten} rewritten (have .afterburn), ${derived} made from a build product that differs, ` +
  `${broken.length} differ otherwise, ${missing} missing in the hooked build`);
for (const rel of broken.slice(0, 20)) console.log(`  differs without records: ${rel}`);
process.exitCode = broken.length > 0 ? 1 : 0;
