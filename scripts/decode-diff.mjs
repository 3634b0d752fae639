#!/usr/bin/env node
// Differential check of the isa decoder against GNU objdump.
//   scripts/decode-diff.mjs fuzz [--mode 16|32|64] [--count N] [--seed S] [--vex] [--show K] [--only text|boundary]
//   scripts/decode-diff.mjs elf <file>... [--show K] [--only text|boundary]
//   scripts/decode-diff.mjs bytes --mode 64 '64 8f c8 77 7a 90'   (one listing, objdump and isa line by line)
// Compares every instruction objdump prints: boundaries (length) always, mnemonic and operands for
// general-purpose and system instructions. Prints the counts and the first K mismatches. Needs the
// TypeScript build (npx tsc -b).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { decode } = await import(join(root, 'packages/isa/dist/index.js'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const show = Number(opt('--show', '20'));
const only = opt('--only', 'all'); // which mismatches to print: all, text, boundary

/** objdump's text with the parts a decoder cannot know removed: symbols, comments, padding. */
export function normalize(t) {
  return t.replace(/\s+#.*$/, '').replace(/ <[^>]*>/g, '').replace(/\s+/g, ' ').trim();
}

function* objdumpLines(out) {
  let section = '';
  for (const line of out.split('\n')) {
    const sec = /^Disassembly of section (.*):$/.exec(line);
    if (sec) { section = sec[1]; continue; }
    const m = /^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*(?:\t(.*))?$/.exec(line);
    if (!m) continue;
    yield { section, address: parseInt(m[1], 16), bytes: m[2].trim().split(/\s+/).map((h) => parseInt(h, 16)), text: m[3] ?? '' };
  }
}

function compare(lines, bytesFor, mode, stats, mismatches) {
  for (const l of lines) {
    const src = bytesFor(l);
    if (!src) continue;
    const insn = decode(src.bytes, src.offset, mode, l.address);
    stats.total++;
    let ref = normalize(l.text);
    // Without symbols objdump prints a branch target as 0x...; with symbols, bare hex and <sym>.
    if (insn.target !== null && !/%[re]ip/.test(insn.operandText)) ref = ref.replace(/0x([0-9a-f]+)$/, '$1');
    const mine = normalize(insn.operandText ? `${insn.mnemonic} ${insn.operandText}` : insn.mnemonic);
    const refMnemonic = ref.split(' ').filter((w) => !/^(lock|rep|repz|repnz|repe|repne|cs|ds|es|ss|fs|gs|data16|data32|addr16|addr32|addr64|notrack|bnd|xacquire|xrelease|rex(\.[WRXB]+)?)$/.test(w))[0] ?? '';
    const boundary = insn.length === l.bytes.length;
    if (!boundary) stats.boundary++;
    const gp = insn.group === 'general' || insn.group === 'system';
    if (gp) stats.gp++;
    let textOk = true;
    if (gp || insn.group === 'other') {
      textOk = ref === mine;
      if (!textOk) stats.text++;
    }
    if (insn.group === 'x87' && ref !== mine) stats.other++;
    const wanted = only === 'text' ? !textOk : only === 'boundary' ? !boundary : !boundary || !textOk;
    if (wanted && mismatches.length < show) {
      mismatches.push(`${l.section} ${l.address.toString(16)}: ${l.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}\n   objdump: ${ref}\n   isa:     ${mine} (len ${insn.length}, ${insn.group})`);
    }
    void refMnemonic;
  }
}

function machineArgs(mode) {
  return mode === 64 ? ['-m', 'i386:x86-64'] : mode === 32 ? ['-m', 'i386'] : ['-m', 'i8086'];
}

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

const vexHeavy = args.includes('--vex'); // half the instructions VEX/EVEX/XOP-encoded

function fuzzBlob(mode, count, seed) {
  const r = rng(seed);
  const out = [];
  const pfx = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36];
  for (let i = 0; i < count; i++) {
    const n = r() % 8 === 0 ? r() % 4 : r() % 3 === 0 ? 1 : 0;
    for (let j = 0; j < n; j++) out.push(pfx[r() % pfx.length]);
    if (mode === 64 && r() % 3 === 0) out.push(0x40 | (r() & 15));
    const kind = r() % 10;
    if (vexHeavy && r() % 2 === 0) {
      // VEX (2- and 3-byte), EVEX and XOP with mostly valid maps; outside 64-bit mode the byte after
      // c4/c5/62 needs its top bits set to be an escape at all.
      const top = mode === 64 ? 0 : 0xc0;
      const esc = r() % 4;
      if (esc === 0) out.push(0xc5, (r() & 0xff) | top);
      else if (esc === 1) out.push(0xc4, (r() % 8 === 0 ? r() & 0x1f : 1 + (r() % 3)) | (r() & 0xe0) | top, r() & 0xff);
      else if (esc === 2) out.push(0x62, (r() % 8 === 0 ? r() & 0x0f : [1, 2, 3, 5, 6][r() % 5]) | (r() & 0xf0) | top, (r() & 0xff) | (r() % 8 ? 4 : 0), r() & 0xff);
      else out.push(0x8f, (r() % 8 === 0 ? r() & 0x1f : 8 + (r() % 3)) | (r() & 0xe0), (r() & 0xff) & (r() % 4 ? 0xfc : 0xff));
      out.push(r() & 0xff);
    } else if (kind < 5) out.push(r() & 0xff);
    else if (kind < 8) out.push(0x0f, r() & 0xff);
    else out.push(0x0f, r() % 2 ? 0x38 : 0x3a, r() & 0xff);
    for (let j = 0; j < 6; j++) out.push(r() & 0xff);
  }
  return Uint8Array.from(out);
}

const stats = { total: 0, boundary: 0, text: 0, gp: 0, other: 0 };
const mismatches = [];
const tmp = mkdtempSync(join(tmpdir(), 'decode-diff-'));
try {
  if (args[0] === 'fuzz') {
    const mode = Number(opt('--mode', '32'));
    const blob = fuzzBlob(mode, Number(opt('--count', '20000')), Number(opt('--seed', '1')));
    const file = join(tmp, 'blob.bin');
    writeFileSync(file, blob);
    const out = execFileSync('objdump', ['-D', '-b', 'binary', ...machineArgs(mode), '--insn-width=15', '-w', file], { maxBuffer: 1 << 30 }).toString();
    compare(objdumpLines(out), (l) => ({ bytes: blob, offset: l.address }), mode, stats, mismatches);
  } else if (args[0] === 'bytes') {
    // One or more instructions given as hex ("64 8f c8 77 7a"), decoded from the start.
    const mode = Number(opt('--mode', '32'));
    const hexText = args.slice(1).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--'))).join(' ');
    const blob = Uint8Array.from(hexText.split(/[^0-9a-fA-F]+/).filter(Boolean).flatMap((h) => h.match(/../g)).map((h) => parseInt(h, 16)));
    const file = join(tmp, 'blob.bin');
    writeFileSync(file, blob);
    const out = execFileSync('objdump', ['-D', '-b', 'binary', ...machineArgs(mode), '--insn-width=15', '-w', file], { maxBuffer: 1 << 30 }).toString();
    const lines = [...objdumpLines(out)];
    for (const l of lines) {
      const insn = decode(blob, l.address, mode, l.address);
      console.log(`${l.address.toString(16).padStart(4)}: ${l.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(30)} objdump: ${normalize(l.text)}\n${''.padEnd(36)} isa:     ${normalize(insn.operandText ? `${insn.mnemonic} ${insn.operandText}` : insn.mnemonic)} (len ${insn.length}, ${insn.group}${insn.valid ? '' : ', invalid'})`);
    }
    compare(lines, (l) => ({ bytes: blob, offset: l.address }), mode, stats, []);
  } else if (args[0] === 'elf') {
    for (const file of args.slice(1).filter((a) => !a.startsWith('--') && !/^\d+$/.test(a))) {
      const hdr = execFileSync('readelf', ['-h', '-S', '-W', file]).toString();
      const mode = /Class:\s+ELF64/.test(hdr) ? 64 : 32;
      const out = execFileSync('objdump', ['-d', '--insn-width=15', '-w', file], { maxBuffer: 2 ** 31 - 1 }).toString();
      const { readFileSync } = await import('node:fs');
      const data = readFileSync(file);
      const sections = [];
      for (const m of hdr.matchAll(/^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/gm)) {
        sections.push({ name: m[1], addr: parseInt(m[2], 16), off: parseInt(m[3], 16), size: parseInt(m[4], 16) });
      }
      const rel = /Type:\s+REL/.test(hdr);
      // objdump decodes each symbol's range on its own: an instruction never runs into the next symbol.
      const starts = new Map();
      let section = '';
      for (const m of out.matchAll(/^Disassembly of section (.*):$|^([0-9a-f]+) <[^>]*>:$/gm)) {
        if (m[1] !== undefined) { section = m[1]; continue; }
        if (!starts.has(section)) starts.set(section, []);
        starts.get(section).push(parseInt(m[2], 16));
      }
      for (const list of starts.values()) list.sort((a, b) => a - b);
      compare(objdumpLines(out), (l) => {
        const s = sections.find((x) => x.name === l.section);
        if (!s) return null;
        const base = rel ? 0 : s.addr;
        const list = starts.get(l.section) ?? [];
        let lo = 0, hi = list.length;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid] <= l.address) lo = mid + 1; else hi = mid; }
        const end = lo < list.length ? list[lo] - base : s.size;
        return { bytes: data.subarray(s.off, s.off + end), offset: l.address - base };
      }, mode, stats, mismatches);
    }
  } else {
    console.error('usage: decode-diff.mjs fuzz|elf|bytes ...');
    process.exit(2);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
for (const m of mismatches) console.log(m);
console.log(`compared ${stats.total} instructions: ${stats.boundary} boundary mismatches, ${stats.text} text mismatches among ${stats.gp} general/system (+bad), x87 text mismatches ${stats.other}`);
process.exit(stats.boundary || stats.text ? 1 : 0);
