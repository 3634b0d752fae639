// Helpers that run the reference tools (GNU as, objdump, gcc) for the isa tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'isa-test-'));
  try { return fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

/** Assembles AT&T source with GNU as and returns the bytes of .text. */
export function assemble(source: string, mode: 32 | 64): Uint8Array {
  return assembleListed(source, mode, null).bytes;
}

/**
 * Assembles AT&T source with GNU as; returns the bytes of .text and, unless `listMode` is null,
 * objdump's listing of it decoded as `listMode`-bit code (default: the assembler's mode; 16 for a
 * source that says `.code16`).
 */
export function assembleListed(source: string, mode: 32 | 64, listMode: 16 | 32 | 64 | null = mode): { bytes: Uint8Array; lines: ObjdumpLine[] } {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'a.s'), `.text\n${source}\n`);
    execFileSync('as', [mode === 64 ? '--64' : '--32', '-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.o'), join(dir, 'a.bin')]);
    const bytes = new Uint8Array(readFileSync(join(dir, 'a.bin')));
    if (listMode === null) return { bytes, lines: [] };
    const machine = listMode === 16 ? ['-m', 'i8086'] : listMode === 32 && mode === 64 ? ['-m', 'i386'] : [];
    const lines = parseObjdump(run('objdump', ['-d', '-w', '--insn-width=15', ...machine, '-j', '.text', join(dir, 'a.o')])).lines;
    return { bytes, lines };
  });
}

/** The section table of an ELF file (name -> address, file offset, size), via readelf. */
export function elfSections(file: string): Map<string, { addr: number; off: number; size: number }> {
  const out = run('readelf', ['-S', '-W', file]);
  const map = new Map<string, { addr: number; off: number; size: number }>();
  for (const m of out.matchAll(/^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/gm)) {
    map.set(m[1]!, { addr: parseInt(m[2]!, 16), off: parseInt(m[3]!, 16), size: parseInt(m[4]!, 16) });
  }
  return map;
}

export interface ObjdumpLine { section: string; address: number; bytes: number[]; text: string }

/** objdump's instruction lines (one line per instruction: --insn-width=15 -w). */
export function parseObjdump(out: string): { lines: ObjdumpLine[]; symbols: { section: string; address: number }[] } {
  const lines: ObjdumpLine[] = [];
  const symbols: { section: string; address: number }[] = [];
  let section = '';
  for (const line of out.split('\n')) {
    const sec = /^Disassembly of section (.*):$/.exec(line);
    if (sec) { section = sec[1]!; continue; }
    const sym = /^([0-9a-f]+) <.*>:$/.exec(line);
    if (sym) { symbols.push({ section, address: parseInt(sym[1]!, 16) }); continue; }
    const m = /^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*(?:\t(.*))?$/.exec(line);
    if (!m) continue;
    lines.push({ section, address: parseInt(m[1]!, 16), bytes: m[2]!.trim().split(/\s+/).map((h) => parseInt(h, 16)), text: m[3] ?? '' });
  }
  return { lines, symbols };
}

/** objdump's text without what a decoder cannot know: symbol names, `#` comments, column padding. */
export function normalizeObjdump(text: string): string {
  return text.replace(/\s+#.*$/, '').replace(/ <[^>]*>/g, '').replace(/\s+/g, ' ').trim();
}

export function run(cmd: string, args: string[], opts: { maxBuffer?: number; cwd?: string } = {}): string {
  return execFileSync(cmd, args, { maxBuffer: opts.maxBuffer ?? 1 << 30, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}
