// Builds the differential-test harness kernel with GNU as/ld and runs it on QEMU and on the simulated
// PC (the I/O side of ./cpudiff.ts; used by scripts/cpu-diff.mjs and the jest slice).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Machine } from './machine.js';
import { casesAssembly, compareResults, parseResults, type DiffCase, type Mismatch } from './cpudiff.js';

export interface ChunkResult {
  cases: number;
  compared: number;
  mismatches: Mismatch[];
  ourInstructions: number;
  ourSeconds: number;
  qemuSeconds: number;
}

/** Assembles the harness (once per directory) and links it with the cases; returns the kernel path. */
function tool(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`${cmd} failed: ${err.stderr?.toString() || err.message}`);
  }
}

export function buildHarnessKernel(harnessDir: string, workDir: string, cases: DiffCase[], name = 'cases'): string {
  mkdirSync(workDir, { recursive: true });
  const harnessObj = join(workDir, 'harness.o');
  const harnessSrc = join(harnessDir, 'harness.S');
  if (!existsSync(harnessObj) || statSync(harnessObj).mtimeMs < statSync(harnessSrc).mtimeMs) {
    tool('gcc', ['-m32', '-c', '-o', harnessObj, join(harnessDir, 'harness.S')]);
  }
  const src = join(workDir, `${name}.S`);
  writeFileSync(src, casesAssembly(cases));
  const obj = join(workDir, `${name}.o`);
  tool('as', ['--32', '-o', obj, src]);
  const elf = join(workDir, `${name}.elf`);
  tool('ld', ['-m', 'elf_i386', '-T', join(harnessDir, 'link.ld'), '--no-warn-rwx-segments', '-o', elf, harnessObj, obj]);
  return elf;
}

export function runOnQemu(elf: string, timeoutMs = 600_000): { output: string; seconds: number; crashed: boolean } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('qemu-system-i386', ['-display', 'none', '-no-reboot', '-serial', 'stdio', '-monitor', 'none',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-kernel', elf], { encoding: 'latin1', timeout: timeoutMs, maxBuffer: 1 << 30 });
  // QEMU 7.2 itself dies with SIGFPE on idiv of 0x8000000000000000 by -1 (a host division overflow).
  const crashed = r.signal === 'SIGFPE';
  return { output: r.stdout ?? '', seconds: Number(process.hrtime.bigint() - t0) / 1e9, crashed };
}

export function runOnMachine(elf: string, jitThreshold?: number): { output: string; seconds: number; instructions: number; message: string } {
  const out: number[] = [];
  const t0 = process.hrtime.bigint();
  const m = new Machine({ kernel: readFileSync(elf), kernelName: elf, serialOut: (b) => out.push(b) });
  if (jitThreshold !== undefined) m.cpu.jitThreshold = jitThreshold;
  const r = m.run(20_000_000_000);
  return {
    output: Buffer.from(out).toString('latin1'), seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    instructions: m.cpu.icount, message: r.reason === 'exit' ? '' : `${r.message}${m.report()}`,
  };
}

/**
 * Runs one chunk on QEMU and on the simulated PC, the latter twice: with the closures alone and with
 * every block compiled to a generated function at once, so that both execution paths are compared.
 */
export function runChunk(harnessDir: string, workDir: string, cases: DiffCase[]): ChunkResult & { ourMessage: string; referenceCrashes: number[] } {
  // A case that crashes QEMU is set aside (and reported) and the chunk run again without it.
  const referenceCrashes: number[] = [];
  let elf = buildHarnessKernel(harnessDir, workDir, cases);
  let q = runOnQemu(elf);
  while (q.crashed) {
    const done = parseResults(q.output).size;
    if (done >= cases.length) break;
    referenceCrashes.push(cases[done].index);
    cases = cases.filter((_, i) => i !== done);
    elf = buildHarnessKernel(harnessDir, workDir, cases);
    q = runOnQemu(elf);
  }
  const ref = parseResults(q.output);
  const o = runOnMachine(elf, Infinity);
  const ours = parseResults(o.output);
  const mismatches = compareResults(cases, ref, ours);
  const jitted = runOnMachine(elf, 1);
  for (const m of compareResults(cases, ref, parseResults(jitted.output))) {
    if (!mismatches.some((x) => x.index === m.index)) mismatches.push({ index: m.index, fields: m.fields.map((f) => ({ ...f, name: `${f.name} (generated code)` })) });
  }
  o.message ||= jitted.message;
  return {
    cases: cases.length, compared: cases.length - mismatches.filter((m) => m.fields[0]?.name.startsWith('missing')).length,
    mismatches, ourInstructions: o.instructions, ourSeconds: o.seconds, qemuSeconds: q.seconds, ourMessage: o.message, referenceCrashes,
  };
}
