#!/usr/bin/env node
// Reads the .afterburn records (format v1, ELF32) of a linked image, prints the sites by kind, and
// checks each record against `objdump -d`: the instruction at site_address has length insn_len and
// the record's kind, and NOPs fill it up to site_len. Also counts the sensitive instructions objdump
// finds that no record covers (BUG's ud2, `.byte`-spelled instructions, int3 fill, excluded code, and the forms
// every back end keeps, which need none: rdtsc, `mov %eax,%ds`).
// Usage: records.mjs <image> [--json]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MEMORY_OPERATION_KINDS, attNeedsSite, classifyAtt, kindName, recordInstructionClass, splitAttOperands, splitAttStatement } from '@previrt/isa';

const image = process.argv[2];
const json = process.argv.includes('--json');
if (!image) {
  console.error('usage: records.mjs <image> [--json]');
  process.exit(2);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'previrt-records-'));
const raw = path.join(tmp, 'afterburn.bin');
let records = [];
try {
  execFileSync('objcopy', ['-O', 'binary', '--only-section=.afterburn', image, raw], { stdio: ['ignore', 'ignore', 'pipe'] });
  const buf = fs.existsSync(raw) ? fs.readFileSync(raw) : Buffer.alloc(0);
  for (let off = 0; off + 8 <= buf.length; off += 8) {
    records.push({ address: buf.readUInt32LE(off), insnLen: buf[off + 4], siteLen: buf[off + 5], kind: buf.readUInt16LE(off + 6) });
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

// Every instruction of the executable sections, by address.
const dump = execFileSync('objdump', ['-d', '-w', image], { maxBuffer: 1 << 30, encoding: 'latin1' });
const insns = new Map();
const line = /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$/;
let symbol = '';
for (const l of dump.split('\n')) {
  const sym = /^[0-9a-f]+ <(.+)>:$/.exec(l);
  if (sym) { symbol = sym[1]; continue; }
  const m = line.exec(l);
  if (!m) continue;
  const address = parseInt(m[1], 16);
  const bytes = m[2].trim().split(' ').length;
  insns.set(address, { address, length: bytes, symbol, text: m[3].replace(/\s+#.*$/, '').replace(/\s+<.*>$/, '').trim() });
}

function classify(text) {
  const split = splitAttStatement(text);
  if (!split) return null;
  return classifyAtt(split.mnemonic, splitAttOperands(split.rest));
}

/** A class that must be handled, in a form some back end rewrites (not rdtsc, not `mov %eax,%ds`). */
function needsSite(cls, text) {
  const split = splitAttStatement(text);
  return split !== null && attNeedsSite(cls, split.mnemonic, splitAttOperands(split.rest));
}

const NOP = /^(nop[wlq]?\b|xchg\s+%e?ax,%e?ax$|data16|cs nop|lea\s+0x0\((%[er]?si)(,%[er]iz,1)?\),%[er]?si$|mov\s+%e?si,%e?si$|ds nop)/;
const byKind = new Map();
const problems = [];
const covered = new Set();
for (const r of records) {
  byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
  const insn = insns.get(r.address);
  if (!insn) { problems.push(`0x${r.address.toString(16)}: no instruction starts here (${kindName(r.kind)})`); continue; }
  covered.add(r.address);
  const cls = classify(insn.text);
  if (insn.length !== r.insnLen) problems.push(`0x${r.address.toString(16)}: '${insn.text}' is ${insn.length} bytes, record says ${r.insnLen}`);
  // Annotated memory operations (previrt/annotate.h, kinds 0x101..) are plain accesses; an annotated
  // instruction (irq-restore) is one of its class.
  const memoryKind = MEMORY_OPERATION_KINDS.some((k) => k.id === r.kind);
  if (!memoryKind && (!cls || cls.id !== recordInstructionClass(r.kind)?.id)) problems.push(`0x${r.address.toString(16)}: '${insn.text}' is ${cls ? cls.name : 'not sensitive'}, record says ${kindName(r.kind)}`);
  for (let a = r.address + insn.length; a < r.address + r.siteLen;) {
    const pad = insns.get(a);
    if (!pad || !NOP.test(pad.text)) { problems.push(`0x${a.toString(16)}: '${pad ? pad.text : '?'}' inside the pad of the site at 0x${r.address.toString(16)}`); break; }
    a += pad.length;
  }
}
const uncovered = new Map();
const uncoveredNeedingSites = [];
for (const insn of insns.values()) {
  if (covered.has(insn.address)) continue;
  const cls = classify(insn.text);
  if (!cls) continue;
  uncovered.set(cls.name, (uncovered.get(cls.name) ?? 0) + 1);
  if (needsSite(cls, insn.text)) uncoveredNeedingSites.push(`0x${insn.address.toString(16)} <${insn.symbol}>: ${insn.text}`);
}
const sitesByKind = Object.fromEntries([...byKind].sort((a, b) => b[1] - a[1]).map(([k, n]) => [kindName(k), n]));
const uncoveredByKind = Object.fromEntries([...uncovered].sort((a, b) => b[1] - a[1]));
if (json) {
  console.log(JSON.stringify({ image, records: records.length, sitesByKind, problems, uncoveredByKind, uncoveredNeedingSites }, null, 2));
} else {
  console.log(`${image}: ${records.length} records`);
  console.log(`  sites by kind: ${Object.entries(sitesByKind).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
  console.log(`  records checked against objdump: ${records.length - problems.length} good, ${problems.length} problems`);
  for (const p of problems.slice(0, 20)) console.log(`    ${p}`);
  console.log(`  sensitive instructions without a record: ${Object.entries(uncoveredByKind).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
  for (const u of uncoveredNeedingSites.slice(0, 20)) console.log(`    needs a site: ${u}`);
}
process.exitCode = problems.length > 0 ? 1 : 0;
