#!/usr/bin/env node
// Generates packages/isa/src/vex-opcodes.ts: which VEX, XOP and EVEX encodings are instructions, as
// GNU objdump (binutils 2.40, the decoder's reference) decodes them. It enumerates every
// (map, opcode, pp, ModRM.reg, register/memory form, L, W, vvvv) combination, disassembles them all
// with objdump, and writes one row per opcode: for each pp (none, 66, f3, f2) the instruction's name
// and the L/W/ModRM/vvvv combinations that exist, its immediate, and how objdump reports the forms
// that do not exist. Run it when the reference objdump changes; the test
// packages/isa/test/vex-validity.test.ts checks a sample against objdump on every run.
//   node scripts/decode-vex-table.mjs [--out packages/isa/src/vex-opcodes.ts]   (takes a few minutes)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outFile = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(root, 'packages/isa/src/vex-opcodes.ts');
const tmp = mkdtempSync(join(tmpdir(), 'vex-table-'));

const SLOT = 24; // bytes per candidate: the candidate, then nops (objdump resynchronises on them)
const FS = 0x64; // a segment prefix on every candidate shows which (bad) forms objdump prints with prefixes
const MODRMS = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((r) => [0xc0 | (r << 3), r << 3]);

const KINDS = {
  vex: { maps: [1, 2, 3], lValues: [0, 1], base: 6, bytes: (map, pp, L, W, op, modrm, vvvv) => [FS, 0xc4, 0xe0 | map, (W << 7) | (vvvv << 3) | (L << 2) | pp, op, modrm] },
  xop: { maps: [8, 9, 10], lValues: [0, 1], base: 6, bytes: (map, pp, L, W, op, modrm, vvvv) => [FS, 0x8f, 0xe0 | map, (W << 7) | (vvvv << 3) | (L << 2) | pp, op, modrm] },
  // P0 = R X B R' 0 m m m, P1 = W vvvv 1 pp, P2 = z L'L b V' aaa (mask k1, so masked-only forms are accepted).
  evex: { maps: [1, 2, 3, 5, 6], lValues: [0, 1, 2], base: 7, bytes: (map, pp, L, W, op, modrm, vvvv) => [FS, 0x62, 0xf0 | map, (W << 7) | (vvvv << 3) | 4 | pp, (L << 5) | 8 | 1, op, modrm] },
};

/** objdump's listing of every candidate: { len, text } by candidate index. */
function objdumpAll(cands, mode) {
  const res = new Array(cands.length);
  const CHUNK = 20000;
  for (let c0 = 0; c0 < cands.length; c0 += CHUNK) {
    const n = Math.min(CHUNK, cands.length - c0);
    const buf = new Uint8Array(n * SLOT).fill(0x90);
    for (let i = 0; i < n; i++) buf.set(cands[c0 + i].bytes, i * SLOT);
    const file = join(tmp, 'blob.bin');
    writeFileSync(file, buf);
    const out = execFileSync('objdump', ['-D', '-b', 'binary', '-m', mode === 64 ? 'i386:x86-64' : 'i386', '--insn-width=15', '-w', file], { maxBuffer: 1 << 30 }).toString();
    for (const line of out.split('\n')) {
      const m = /^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$/.exec(line);
      if (!m) continue;
      const a = parseInt(m[1], 16);
      if (a % SLOT === 0) res[c0 + a / SLOT] = { len: m[2].trim().split(/\s+/).length, text: m[3].trim().replace(/\s+/g, ' ') };
    }
  }
  return res;
}

function survey(kind, mode, vvvvs) {
  const k = KINDS[kind];
  const cands = [];
  for (const map of k.maps) for (let pp = 0; pp < 4; pp++) for (const L of k.lValues) for (let W = 0; W < 2; W++)
    for (let op = 0; op < 256; op++) for (const modrm of MODRMS) for (const vvvv of vvvvs) {
      cands.push({ map, pp, L, W, op, reg: (modrm >> 3) & 7, mod3: modrm >= 0xc0, vvvv, bytes: k.bytes(map, pp, L, W, op, modrm, vvvv) });
    }
  const res = objdumpAll(cands, mode);
  return cands.map((c, i) => {
    const r = res[i];
    if (!r) throw new Error(`${kind} ${mode}-bit: objdump did not list candidate ${i}`);
    const text = r.text;
    const bad = /^(fs )?\(bad\)/.test(text);
    return { ...c, bytes: undefined, len: r.len, text, bad, tableBad: bad && text.startsWith('fs '), name: bad ? null : text.replace(/^fs /, '').split(' ')[0] };
  });
}

const key = (...parts) => parts.join(':');

/** The table cells of one kind: cells[map][op][pp] = spec string. */
function buildCells(kind, rows64, rows32) {
  const k = KINDS[kind];
  const by = new Map();
  for (const r of rows64) { const kk = key(r.map, r.op, r.pp, r.reg); if (!by.has(kk)) by.set(kk, []); by.get(kk).push(r); }
  const valid32 = new Set(rows32.filter((r) => !r.bad).map((r) => key(r.map, r.op, r.pp, r.reg, r.L, r.W, r.mod3, r.vvvv)));
  const problems = [];

  const combos = [0, 1].flatMap((w) => [false, true].flatMap((m) => k.lValues.map((l) => [w, m, l])));
  function spec(rs) {
    const plain = rs.filter((r) => r.vvvv === 15);
    const valid = plain.filter((r) => !r.bad);
    const majorityTableBad = (list) => list.filter((r) => r.tableBad).length * 2 >= list.length;
    // How objdump rejects the forms in `list`, for each (W, ModRM form, L) in that order: - or !.
    const flavors = (list) => combos.map(([w, m, l]) => {
      const here = list.filter((r) => r.W === w && r.mod3 === m && r.L === l);
      return here.length && !majorityTableBad(here) ? '!' : '-';
    }).join('');
    if (valid.length === 0) {
      const f = flavors(plain);
      return /^-+$/.test(f) ? '-' : /^!+$/.test(f) ? '!' : `?${f}`;
    }
    const L = [...new Set(valid.map((r) => r.L))].sort(), W = [...new Set(valid.map((r) => r.W))].sort();
    const mods = [...new Set(valid.map((r) => r.mod3))];
    const factorizes = plain.every((r) => !r.bad === (L.includes(r.L) && W.includes(r.W) && mods.includes(r.mod3)));
    if (!factorizes) problems.push(`${kind} ${rs[0].map}:${rs[0].op.toString(16)} pp${rs[0].pp} /${rs[0].reg}: validity does not factor into L x W x mod`);
    // Forms objdump names but ends after the first byte (a memory-only operand given a register: its
    // BadOp restarts after the VEX/EVEX/XOP escape byte).
    const reset = valid.filter((r) => r.len < k.base - 1);
    const resetMods = [...new Set(reset.map((r) => r.mod3))];
    const full = valid.filter((r) => r.len >= k.base - 1);
    const lens = [...new Set(full.map((r) => r.len))];
    if (lens.length !== 1) problems.push(`${kind} ${rs[0].map}:${rs[0].op.toString(16)} pp${rs[0].pp}: lengths ${lens}`);
    let imm = lens[0] - k.base;
    let noModrm = false;
    if (imm < 0) { noModrm = true; imm += 1; }
    // vvvv: used when a form with vvvv != 1111 is still an instruction (in which ModRM forms).
    const vForms = [...new Set(rs.filter((r) => r.vvvv !== 15 && !r.bad).map((r) => r.mod3))];
    // The name objdump prints for W0 (or the only W), and for W1 when it differs.
    const nameFor = (w) => { const c = valid.filter((r) => r.W === w && !r.name.includes('{bad}')); const pick = c.find((r) => r.mod3) ?? c[0]; return pick?.name; };
    const n0 = nameFor(W[0]), n1 = W.length > 1 ? nameFor(1) : undefined;
    let s = n1 && n1 !== n0 ? `${n0}|${n1}` : n0 ?? valid[0].name;
    if (L.length !== k.lValues.length) s += ' L' + L.join('');
    if (W.length === 1) s += ' W' + W[0];
    if (mods.length === 1) s += mods[0] ? ' reg' : ' mem';
    if (vForms.length === 2 || (vForms.length === 1 && mods.length === 1)) s += ' V';
    else if (vForms.length === 1) s += vForms[0] ? ' Vreg' : ' Vmem';
    if (imm === 1) s += ' Ib'; else if (imm === 4) s += ' Id'; else if (imm !== 0) problems.push(`${kind} ${rs[0].map}:${rs[0].op.toString(16)}: immediate of ${imm} bytes`);
    if (noModrm) s += ' nomodrm';
    if (reset.some((r) => r.len !== 2 + imm)) problems.push(`${kind} ${rs[0].map}:${rs[0].op.toString(16)} pp${rs[0].pp}: forms ending early have odd lengths`);
    if (resetMods.length === 1 && full.every((r) => r.mod3 !== resetMods[0])) s += resetMods[0] ? ' reg1' : ' mem1';
    else if (reset.length) problems.push(`${kind} ${rs[0].map}:${rs[0].op.toString(16)} pp${rs[0].pp}: forms ending after one byte do not follow the ModRM form`);
    // Forms outside L x W x mod that objdump rejects through its mandatory-prefix check (printed without prefixes).
    const invalid = plain.filter((r) => r.bad);
    if (invalid.length) {
      const f = flavors(invalid);
      const rejectedEverywhere = combos.every(([w, m, l], i) => f[i] === '!' || !invalid.some((r) => r.W === w && r.mod3 === m && r.L === l));
      if (rejectedEverywhere) s += ' !';
      else if (f.includes('!')) s += ` !${f}`;
    }
    // Legacy (16/32-bit) mode: the same forms, or none (64-bit-only instructions).
    const v32 = rs.map((r) => valid32.has(key(r.map, r.op, r.pp, r.reg, r.L, r.W, r.mod3, r.vvvv)));
    if (!rs.every((r, i) => v32[i] === !r.bad)) {
      if (v32.every((v) => !v)) s += ' x64';
      else problems.push(`${kind} ${rs[0].map}:${rs[0].op.toString(16)} pp${rs[0].pp} /${rs[0].reg}: 32-bit forms differ`);
    }
    return s;
  }

  // Memory forms that need a SIB byte (VSIB: gathers, scatters): without one objdump reads no displacement.
  const vsibProbe = [];
  for (const [kk, rs] of by) {
    const m = rs.find((r) => r.vvvv === 15 && !r.bad && !r.mod3 && r.len >= k.base - 1);
    if (m) vsibProbe.push({ kk, bytes: [...k.bytes(m.map, m.pp, m.L, m.W, m.op, 0x40 | (m.reg << 3), 15), 0x7f], len: m.len });
  }
  const probed = objdumpAll(vsibProbe, 64);
  const vsib = new Set(vsibProbe.filter((c, i) => probed[i].len === c.len).map((c) => c.kk));

  const cells = {};
  for (const map of k.maps) {
    cells[map] = {};
    for (let op = 0; op < 256; op++) {
      const pps = [];
      for (let pp = 0; pp < 4; pp++) {
        const regs = [0, 1, 2, 3, 4, 5, 6, 7].map((reg) => {
          const sp = spec(by.get(key(map, op, pp, reg)));
          return vsib.has(key(map, op, pp, reg)) ? `${sp} vsib` : sp;
        });
        pps.push(regs.every((x) => x === regs[0]) ? regs[0] : `/r ${regs.join('; ')}`);
      }
      if (pps.every((p) => p === '-')) continue;
      cells[map][op] = pps.join(' | ');
    }
  }
  return { cells, problems };
}

const started = Date.now();
const tables = {};
const problems = [];
for (const kind of ['vex', 'xop', 'evex']) {
  const rows64 = survey(kind, 64, [15, 14]);
  const rows32 = survey(kind, 32, [15, 14]);
  const { cells, problems: p } = buildCells(kind, rows64, rows32);
  tables[kind] = cells;
  problems.push(...p);
  console.error(`${kind}: ${rows64.length + rows32.length} encodings disassembled (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
rmSync(tmp, { recursive: true, force: true });

const objdumpVersion = execFileSync('objdump', ['--version']).toString().split('\n')[0];
const lines = [];
lines.push(`// VEX, XOP and EVEX opcode maps: which encodings are instructions, as ${objdumpVersion.replace(/^GNU objdump /, 'objdump ')}
// decodes them. GENERATED by scripts/decode-vex-table.mjs from a disassembly of every (map, opcode,
// pp, ModRM.reg, register/memory form, L, W, vvvv) combination; regenerate rather than edit.
//
// A row is the four cells of one opcode, for pp = none | 66 | f3 | f2. A cell is
//   -            no instruction: objdump prints "(bad)" (with the prefixes and EVEX masking)
//   !            no instruction: objdump's mandatory-prefix check rejects it ("(bad)" alone)
//   ?xx...       no instruction, rejected as - or ! depending on W, ModRM form and L: one character
//                for each (W0|W1) x (memory|register) x (L0|L1[|L2]), in that order
//   /r c0; ...; c7   one cell per ModRM.reg
//   name flags   an instruction (name as objdump prints it; "a|b": a for W0, b for W1), where
//     L0 L1 L01 L12 ...  the vector lengths (VEX.L, EVEX.L'L) it exists for (default: all)
//     W0 W1        the only VEX/EVEX.W it exists for
//     mem reg      the only ModRM form it exists for
//     V Vreg Vmem  it reads vvvv (in both forms / the register form / the memory form); else vvvv must be 1111
//     Ib Id        an 8-bit / 32-bit immediate follows
//     nomodrm      no ModRM byte (vzeroupper, vzeroall)
//     vsib         its memory operand needs a SIB byte: without one, objdump reads no displacement
//     reg1 mem1    that ModRM form is decoded, but objdump's operand check ends it after the escape byte
//                  (and its immediate, read from there)
//     !            its forms outside those are rejected by the mandatory-prefix check (see above);
//     !xx...       ...those of the W/form/L combinations marked ! (as for ?xx...)
//     x64          64-bit mode only
export type VexTable = Readonly<Record<number, Readonly<Record<number, string>>>>;
`);
const names = { vex: 'VEX_MAPS', xop: 'XOP_MAPS', evex: 'EVEX_MAPS' };
for (const kind of ['vex', 'xop', 'evex']) {
  lines.push(`export const ${names[kind]}: VexTable = {`);
  for (const [map, rows] of Object.entries(tables[kind])) {
    lines.push(`  ${map}: {`);
    for (const [op, row] of Object.entries(rows)) lines.push(`    0x${Number(op).toString(16).padStart(2, '0')}: '${row}',`);
    lines.push('  },');
  }
  lines.push('};');
  lines.push('');
}
writeFileSync(outFile, lines.join('\n'));
console.error(`wrote ${outFile}`);
if (problems.length) {
  console.error(`${problems.length} entries the table notation cannot express exactly:`);
  for (const p of problems) console.error('  ' + p);
}
