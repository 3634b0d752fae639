// Test helpers that ask GNU binutils (the reference) what an object really contains: the .afterburn
// records with their relocations (readelf -r), and the instructions at an address (objdump -d).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classifyAtt, splitAttOperands, splitAttStatement, type SensitiveClass } from '@previrt/isa';

export const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'previrt-ab-test-'));
let counter = 0;

export function tmpFile(name: string): string {
  return path.join(tmpRoot, `${counter++}-${name}`);
}

/** Assembles text with GNU as; returns the object path, or throws with the assembler's messages. */
export function assemble(text: string, elfClass: 32 | 64, extraArgs: string[] = []): { obj: string; stderr: string } {
  const src = tmpFile('in.s');
  const obj = `${src}.o`;
  fs.writeFileSync(src, text, 'latin1');
  const r = spawnSync('as', [`--${elfClass}`, ...extraArgs, '-o', obj, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`as failed:\n${r.stderr}`);
  return { obj, stderr: r.stderr };
}

export interface ObjRecord {
  section: string;
  offset: number;
  insnLen: number;
  siteLen: number;
  kind: number;
  zero?: number;
}

/** The contents of one section (empty when the object has no such section). */
export function sectionDump(obj: string, name: string): Buffer {
  // --dump-section, not -O binary: that one leaves out sections that are not allocated.
  const out = tmpFile('sec.bin');
  const r = spawnSync('objcopy', [`--dump-section=${name}=${out}`, obj, tmpFile('copy.o')]);
  if (r.status !== 0 || !fs.existsSync(out)) return Buffer.alloc(0);
  return fs.readFileSync(out);
}

/** The records of an object's `.afterburn` (or another table), each resolved through its relocation to (section, offset). */
export function readRecords(obj: string, elfClass: 32 | 64, table = '.afterburn'): ObjRecord[] {
  const data = sectionDump(obj, table);
  const size = elfClass === 64 ? 16 : 8;
  const relocs = new Map<number, { sym: string; addend: number | null }>();
  const text = execFileSync('readelf', ['-rW', obj], { encoding: 'utf8' });
  let inAfterburn = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('Relocation section')) { inAfterburn = line.includes(`'.rel${elfClass === 64 ? 'a' : ''}${table}'`); continue; }
    if (!inAfterburn) continue;
    const m = /^([0-9a-f]+)\s+[0-9a-f]+\s+(R_\S+)\s+([0-9a-f]+)\s+(\S+)(?:\s+\+\s+([0-9a-f]+))?/.exec(line.trim());
    if (!m) continue;
    const symValue = parseInt(m[3]!, 16);
    relocs.set(parseInt(m[1]!, 16), { sym: m[4]!, addend: m[5] !== undefined ? symValue + parseInt(m[5], 16) : null });
  }
  const records: ObjRecord[] = [];
  for (let off = 0; off + size <= data.length; off += size) {
    const rel = relocs.get(off);
    if (!rel) throw new Error(`record at ${table}+${off} has no relocation`);
    const inPlace = elfClass === 64 ? Number(data.readBigUInt64LE(off)) : data.readUInt32LE(off);
    const rec: ObjRecord = {
      section: rel.sym,
      offset: rel.addend ?? inPlace,
      insnLen: data[off + size - 4]!,
      siteLen: data[off + size - 3]!,
      kind: data.readUInt16LE(off + size - 2),
    };
    if (elfClass === 64) {
      rec.insnLen = data[off + 8]!;
      rec.siteLen = data[off + 9]!;
      rec.kind = data.readUInt16LE(off + 10);
      rec.zero = data.readUInt32LE(off + 12);
    }
    records.push(rec);
  }
  return records;
}

export interface Insn {
  offset: number;
  length: number;
  text: string;
}

/** objdump -d of [start, stop) of one section, decoded in the given mode. */
export function disassemble(obj: string, section: string, start: number, stop: number, mode: 16 | 32 | 64): Insn[] {
  const args = ['-d', '-w', '-j', section, `--start-address=${start}`, `--stop-address=${stop}`];
  if (mode === 16) args.push('-M', 'i8086');
  const out = execFileSync('objdump', [...args, obj], { encoding: 'latin1' });
  const insns: Insn[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$/.exec(line);
    if (!m) continue;
    insns.push({ offset: parseInt(m[1]!, 16), length: m[2]!.trim().split(' ').length, text: m[3]!.replace(/\s+#.*$/, '').replace(/\s+<.*>$/, '').trim() });
  }
  return insns;
}

/** The catalogue class of one objdump line, or null. */
export function classifyObjdump(text: string): SensitiveClass | null {
  const split = splitAttStatement(text);
  if (!split) return null;
  return classifyAtt(split.mnemonic, splitAttOperands(split.rest));
}

/** NOP forms GNU as emits for .nops and previrt's 16-bit padding. */
export function isNop(text: string): boolean {
  return /^(nop[wlq]?\b|data16 |cs nop|xchg\s+%e?ax,%e?ax$|lea\s+0x0\((%[er]?si)(,%[er]iz,1)?\),%[er]?si$|mov\s+%e?si,%e?si$)/.test(text)
    || /^(data16\s+)*(cs\s+)?nop/.test(text);
}

/** Executable sections of an object with their sizes (readelf -S). */
export function codeSections(obj: string): { name: string; size: number }[] {
  const out = execFileSync('readelf', ['-SW', obj], { encoding: 'utf8' });
  const result: { name: string; size: number }[] = [];
  for (const line of out.split('\n')) {
    const m = /\]\s+(\S+)\s+PROGBITS\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+(\S*)/.exec(line);
    if (m && m[3]!.includes('X')) result.push({ name: m[1]!, size: parseInt(m[2]!, 16) });
  }
  return result;
}
