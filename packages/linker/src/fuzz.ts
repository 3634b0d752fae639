// A seeded mutation fuzzer for the ELF reader, the writer and the check: mutates real files with
// structure-aware edits (header fields, section and program headers, symbols, notes, record tables)
// and plain byte damage, then runs parse -> check/inspect -> write. Every outcome must be a result or
// a typed error (ElfError, CheckInputError); anything else is a crash. Used by scripts/fuzz-elf.mjs
// (long campaigns) and by a seeded slice in the tests.
import { parseElf, ElfError, type ElfFile } from './elf/reader.js';
import { toImage, writeElf } from './elf/writer.js';
import { checkElf } from './check/check.js';
import { CheckInputError } from './check/image.js';
import { inspectElf } from './inspect.js';

/** mulberry32: small, fast, seeded. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING_32 = [0, 1, 2, 3, 4, 7, 8, 0x10, 0x40, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfff1, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

interface Layout {
  bits: 32 | 64;
  shoff: number;
  shnum: number;
  shentsize: number;
  phoff: number;
  phnum: number;
  phentsize: number;
  sections: { offset: number; size: number; type: number }[];
}

function layoutOf(bytes: Uint8Array): Layout | null {
  try {
    const e = parseElf(bytes, 'seed');
    return {
      bits: e.header.bits, shoff: e.header.shoff, shnum: e.header.shnum, shentsize: e.header.shentsize,
      phoff: e.header.phoff, phnum: e.header.phnum, phentsize: e.header.phentsize,
      sections: e.sections.map((s) => ({ offset: s.offset, size: s.size, type: s.type })),
    };
  } catch {
    return null;
  }
}

function put(view: DataView, at: number, size: 1 | 2 | 4 | 8, value: number): void {
  if (at < 0 || at + size > view.byteLength) return;
  if (size === 1) view.setUint8(at, value & 0xff);
  else if (size === 2) view.setUint16(at, value & 0xffff, true);
  else if (size === 4) view.setUint32(at, value >>> 0, true);
  else view.setBigUint64(at, BigInt(Math.floor(value)) & 0xffffffffffffffffn, true);
}

export interface Mutation {
  bytes: Uint8Array;
  description: string;
}

/** One mutated copy of `seed`. */
export function mutateElf(seed: Uint8Array, random: () => number): Mutation {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const int = (n: number) => Math.floor(random() * n);
  let bytes = seed.slice();
  const layout = layoutOf(seed);
  const steps: string[] = [];
  const count = 1 + int(3);
  for (let step = 0; step < count; step++) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const value = () => (random() < 0.7 ? pick(INTERESTING_32) : int(0x100000000)) + (random() < 0.2 ? int(64) - 32 : 0);
    const choice = int(layout ? 10 : 4);
    switch (choice) {
      case 0: { // bit flips
        const n = 1 + int(8);
        for (let i = 0; i < n; i++) {
          const at = int(bytes.length);
          bytes[at]! ^= 1 << int(8);
        }
        steps.push(`flip ${n} bits`);
        break;
      }
      case 1: { // truncate
        const len = random() < 0.5 ? int(Math.min(bytes.length, 256)) : int(bytes.length);
        bytes = bytes.slice(0, len);
        steps.push(`truncate to ${len}`);
        break;
      }
      case 2: { // random bytes in a random run
        const at = int(bytes.length);
        const n = 1 + int(16);
        for (let i = 0; i < n && at + i < bytes.length; i++) bytes[at + i] = int(256);
        steps.push(`scramble ${n} bytes at ${at}`);
        break;
      }
      case 3: { // ELF header field
        const fields32: [number, 1 | 2 | 4][] = [[4, 1], [5, 1], [16, 2], [18, 2], [24, 4], [28, 4], [32, 4], [40, 2], [42, 2], [44, 2], [46, 2], [48, 2], [50, 2]];
        const fields64: [number, 1 | 2 | 4 | 8][] = [[4, 1], [5, 1], [16, 2], [18, 2], [24, 8], [32, 8], [40, 8], [52, 2], [54, 2], [56, 2], [58, 2], [60, 2], [62, 2]];
        const [at, size] = pick(layout?.bits === 64 ? fields64 : fields32);
        const v = value();
        put(view, at, size as 1 | 2 | 4 | 8, v);
        steps.push(`ehdr@${at}=${v}`);
        break;
      }
      case 4: case 5: { // a section header field
        const l = layout!;
        if (l.shnum === 0) break;
        const i = int(l.shnum);
        const base = l.shoff + i * l.shentsize;
        const fields: [number, 1 | 2 | 4 | 8][] = l.bits === 64
          ? [[0, 4], [4, 4], [8, 8], [16, 8], [24, 8], [32, 8], [40, 4], [44, 4], [48, 8], [56, 8]]
          : [[0, 4], [4, 4], [8, 4], [12, 4], [16, 4], [20, 4], [24, 4], [28, 4], [32, 4], [36, 4]];
        const [off, size] = pick(fields);
        // Types that make the reader interpret contents: symbols, relocations, notes, RELR.
        const v = off === 4 && random() < 0.6 ? pick([1, 2, 3, 4, 7, 8, 9, 11, 18, 19]) : value();
        put(view, base + off, size, v);
        steps.push(`shdr[${i}]+${off}=${v}`);
        break;
      }
      case 6: { // a program header field
        const l = layout!;
        if (l.phnum === 0) { bytes[int(bytes.length)] = int(256); break; }
        const i = int(l.phnum);
        const base = l.phoff + i * l.phentsize;
        const fields: [number, 1 | 2 | 4 | 8][] = l.bits === 64
          ? [[0, 4], [4, 4], [8, 8], [16, 8], [32, 8], [40, 8]]
          : [[0, 4], [4, 4], [8, 4], [16, 4], [20, 4], [24, 4]];
        const [off, size] = pick(fields);
        const v = value();
        put(view, base + off, size, v);
        steps.push(`phdr[${i}]+${off}=${v}`);
        break;
      }
      case 7: case 8: { // inside a section's contents: symbols, relocations, notes, records, DWARF
        const l = layout!;
        const candidates = l.sections.filter((s) => s.size >= 4 && s.type !== 8 && s.offset + s.size <= bytes.length);
        if (candidates.length === 0) break;
        const s = pick(candidates);
        const at = s.offset + int(s.size - 3) ;
        const aligned = at - (at % 4);
        const v = value();
        put(view, aligned, 4, v);
        steps.push(`section@${s.offset}+${aligned - s.offset}=${v}`);
        break;
      }
      case 9: { // copy one region over another (duplicated headers, shifted tables)
        const from = int(bytes.length);
        const to = int(bytes.length);
        const n = Math.min(1 + int(128), bytes.length - Math.max(from, to));
        if (n > 0) bytes.copyWithin(to, from, from + n);
        steps.push(`copy ${n} bytes ${from}->${to}`);
        break;
      }
    }
  }
  return { bytes, description: steps.join('; ') };
}

export type FuzzOutcome = 'parsed' | 'rejected';

export interface FuzzCrash {
  description: string;
  error: string;
  bytes: Uint8Array;
}

/**
 * Runs the reader, the check, inspect and the writer on one input. Returns 'rejected' for a typed
 * error (what the CLI reports with exit 2), 'parsed' when everything ran; throws a FuzzCrash-shaped
 * error for anything else.
 */
export function runFuzzCase(bytes: Uint8Array, name: string): FuzzOutcome {
  let elf: ElfFile;
  try {
    elf = parseElf(bytes, name);
  } catch (err) {
    if (err instanceof ElfError) return 'rejected';
    throw err;
  }
  // The writer reproduces any file the reader accepts.
  const out = writeElf(toImage(elf));
  if (out.length !== bytes.length || !out.every((b, i) => b === bytes[i])) {
    let at = 0;
    while (at < out.length && out[at] === bytes[at]) at++;
    throw new Error(`write(read(x)) differs from x (${out.length} vs ${bytes.length} bytes, first difference at ${at})`);
  }
  try {
    checkElf(elf);
    inspectElf(elf);
  } catch (err) {
    if (err instanceof CheckInputError || err instanceof ElfError) return 'rejected';
    throw err;
  }
  return 'parsed';
}
