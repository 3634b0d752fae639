#!/usr/bin/env node
// Porting effort, side by side: the lines of the test kernel that exist only for the para-virtual
// port (PARAVIRT=1: the `#if CONFIG_PARAVIRT` / `.if CONFIG_PARAVIRT` branches and the files only that
// build compiles) against the lines that pre-virtualization needs (the annotation macros of
// previrt/annotate.h and the exclusion markers; everything else is the afterburner's, at build time).
//   node scripts/porting-effort.mjs [--json] [kernel dir]
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const json = args.includes('--json');
const dir = args.find((a) => !a.startsWith('--')) ?? join(root, 'fixtures/kernel');
const files = ['src', 'include'].flatMap((d) => readdirSync(join(dir, d)).map((f) => join(dir, d, f)))
  .filter((f) => /\.(c|h|S|s)$/.test(f));
files.push(join(dir, 'Makefile'), join(dir, 'kernel.ld'));

const blank = (l) => l.trim() === '' || /^\s*(\/\*.*\*\/|\/\/.*|#(?!\s*(if|else|elif|endif|include|define)).*|\*.*|\/\*.*)$/.test(l) && !/^\s*#\s*(if|else|elif|endif|include|define)/.test(l);
const ANNOTATION = /\bPV_(PTE_SET|PTE_READ|PTE_TEST_AND_CLEAR|PDE_SET|PDE_READ|MMIO_READ(8|16)?|MMIO_WRITE(8|16)?|NO_AFTERBURN_BEGIN|NO_AFTERBURN_END|ASM_\w+)\b|#\s*include\s*<previrt\/annotate\.h>|\.set \.Lprevirt_off|previrt:(off|on)\b/;

const pv = { newFiles: {}, branches: {}, replaced: {}, directives: {} };
const pre = { annotations: {} };
for (const f of files) {
  const name = relative(dir, f);
  const lines = readFileSync(f, 'utf8').split('\n');
  // A file that only the para-virtual build compiles.
  if (/^\s*#if CONFIG_PARAVIRT\s*$/m.test(lines.slice(0, 12).join('\n')) && /xen\.c$/.test(name) || /xen\.h$/.test(name)) {
    pv.newFiles[name] = lines.filter((l) => !blank(l)).length;
    continue;
  }
  const stack = [];
  const isS = /\.s$/.test(f);
  for (const line of lines) {
    const t = line.trim();
    const opens = isS ? /^\.if\s+CONFIG_PARAVIRT\b/.test(t) : /^#\s*if\s+CONFIG_PARAVIRT\b/.test(t) || /^ifeq \(\$\(PARAVIRT\),1\)/.test(t);
    if (opens) { stack.push('pv'); pv.directives[name] = (pv.directives[name] ?? 0) + 1; continue; }
    if (!isS && /^#\s*if/.test(t)) { stack.push('other'); continue; }
    if (stack.length && (isS ? /^\.else\b/.test(t) : /^#\s*else\b/.test(t) || (/^else$/.test(t) && stack.at(-1)?.startsWith('pv')))) {
      if (stack.at(-1) === 'pv') { stack[stack.length - 1] = 'native'; pv.directives[name] += 1; continue; }
      continue;
    }
    if (stack.length && (isS ? /^\.endif\b/.test(t) : /^#\s*endif\b/.test(t) || /^endif$/.test(t))) {
      const top = stack.pop();
      if (top !== 'other') pv.directives[name] += 1;
      continue;
    }
    const where = stack.includes('pv') ? 'pv' : stack.includes('native') ? 'native' : null;
    if (where === 'pv' && !blank(line)) pv.branches[name] = (pv.branches[name] ?? 0) + 1;
    if (where === 'native' && !blank(line)) pv.replaced[name] = (pv.replaced[name] ?? 0) + 1;
    if (where !== 'pv' && ANNOTATION.test(line)) pre.annotations[name] = (pre.annotations[name] ?? 0) + 1;
  }
  // Lines that mention the para-virtual build outside conditionals (Makefile variables, comments are not counted).
  if (/Makefile$|kernel\.ld$/.test(name)) {
    const extra = lines.filter((l) => /PARAVIRT|\.note\.Xen/.test(l) && !/^\s*#/.test(l) && !/^ifeq/.test(l.trim())).length;
    if (extra) pv.branches[name] = (pv.branches[name] ?? 0) + extra;
  }
}
// The pre-virtualized build's own lines: the Makefile rules that generate previrt/annotate.h and the
// linker-script fragment, and the INCLUDE of that fragment.
const build = {};
for (const name of ['Makefile', 'kernel.ld']) {
  const lines = readFileSync(join(dir, name), 'utf8').split('\n');
  const n = lines.filter((l) => !/^\s*#/.test(l) && !/^\s*\/?\*/.test(l) && /PREVIRT|ANNOTATE_H|afterburn|include\.new|header\.err/.test(l)).length;
  if (n) build[name] = n;
}
pre.build = build;
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
const result = {
  paravirtual: {
    newFiles: pv.newFiles, branches: pv.branches, nativeLinesReplaced: pv.replaced, conditionalDirectives: pv.directives,
    total: sum(pv.newFiles) + sum(pv.branches) + sum(pv.directives), filesTouched: new Set([...Object.keys(pv.newFiles), ...Object.keys(pv.branches)]).size,
  },
  preVirtualization: { annotations: pre.annotations, build: pre.build, total: sum(pre.annotations), buildLines: sum(pre.build), filesTouched: Object.keys(pre.annotations).length },
};
if (json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const list = (o) => Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`para-virtual port (PARAVIRT=1): ${result.paravirtual.total} lines in ${result.paravirtual.filesTouched} files`);
  console.log(`  new files: ${list(pv.newFiles)}`);
  console.log(`  para-virtual branches in existing files: ${sum(pv.branches)} lines (${list(pv.branches)})`);
  console.log(`  conditional directives: ${sum(pv.directives)}; native lines the branches stand in for: ${sum(pv.replaced)}`);
  console.log(`pre-virtualization: ${result.preVirtualization.total} annotation lines in ${result.preVirtualization.filesTouched} files (${list(pre.annotations)})`);
  console.log(`  build: ${sum(pre.build)} lines (${list(pre.build)}: generating previrt/annotate.h and the linker-script fragment)`);
  console.log('  (sensitive instructions need no source change: the afterburner pads and records them at build time)');
}
