// Test helpers that ask the GNU toolchain (the reference): assemble with `as`, disassemble with
// `objdump`, compile with `gcc`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const tmp = mkdtempSync(join(tmpdir(), 'previrt-scanner-test-'));
let counter = 0;

export function tmpPath(name: string): string {
  return join(tmp, `${counter++}-${name}`);
}

export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

export interface Disassembled {
  bytes: number[];
  /** objdump's text: mnemonic and operands. */
  text: string;
}

/** Assembles AT&T statements with GNU as and disassembles .text with objdump, one entry per instruction. */
export function assembleAndDisassemble(statements: readonly string[], bits: 32 | 64): Disassembled[] {
  const src = tmpPath('in.s');
  const obj = `${src}.o`;
  writeFileSync(src, `.text\n${statements.join('\n')}\n`);
  run('as', [`--${bits}`, '-o', obj, src]);
  const out = run('objdump', ['-d', '-j', '.text', '--insn-width=16', obj]);
  const result: Disassembled[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t(.*)$/.exec(line);
    if (!m) continue;
    result.push({ bytes: m[1]!.trim().split(' ').map((b) => parseInt(b, 16)), text: m[2]!.replace(/\s+#.*$/, '').trim() });
  }
  return result;
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
