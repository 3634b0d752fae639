// Builds fixtures/linker/check/kernel.s with GNU as and ld (through the `previrt ldscript` fragment),
// with the kind ids and site sizes of the catalogue passed as --defsym.
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SENSITIVE_CLASSES, MEMORY_OPERATION_KINDS } from '@previrt/isa';
import { generateLinkerScript } from '@previrt/linker';

export const CHECK_FIXTURES = fileURLToPath(new URL('../../../fixtures/linker/check/', import.meta.url));

function symbolName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export function catalogueDefsyms(): string[] {
  const out: string[] = [];
  for (const k of [...SENSITIVE_CLASSES, ...MEMORY_OPERATION_KINDS]) {
    out.push('--defsym', `K_${symbolName(k.name)}=${k.id}`, '--defsym', `S_${symbolName(k.name)}=${k.siteSize}`);
  }
  return out;
}

/** Assembles and links one variant; returns the path of the linked image. */
export function buildCheckFixture(dir: string, variant: number | 'plain'): string {
  copyFileSync(join(CHECK_FIXTURES, 'link.ld'), join(dir, 'link.ld'));
  writeFileSync(join(dir, 'afterburn.ld'), generateLinkerScript('i386'));
  const name = `kernel-${variant}`;
  const obj = join(dir, `${name}.o`);
  const elf = join(dir, `${name}.elf`);
  execFileSync('as', ['--32', '-g', '-I', CHECK_FIXTURES, ...catalogueDefsyms(),
    '--defsym', `VARIANT=${variant === 'plain' ? 0 : variant}`, '--defsym', `PLAIN=${variant === 'plain' ? 1 : 0}`,
    join(CHECK_FIXTURES, 'kernel.s'), '-o', obj], { stdio: 'pipe' });
  execFileSync('ld', ['-m', 'elf_i386', '-T', 'link.ld', '-L', dir, obj, '-o', elf], { cwd: dir, stdio: 'pipe' });
  return elf;
}

/** The x86-64 fixture: assembled with --64 and linked with ld -m elf_x86_64 through the x86_64 fragment. */
export function buildCheckFixture64(dir: string, plain: boolean): string {
  copyFileSync(join(CHECK_FIXTURES, 'link.ld'), join(dir, 'link.ld'));
  writeFileSync(join(dir, 'afterburn.ld'), generateLinkerScript('x86_64'));
  const name = `kernel64-${plain ? 'plain' : 'sites'}`;
  const obj = join(dir, `${name}.o`);
  const elf = join(dir, `${name}.elf`);
  execFileSync('as', ['--64', ...catalogueDefsyms(), '--defsym', `PLAIN=${plain ? 1 : 0}`, join(CHECK_FIXTURES, 'kernel64.s'), '-o', obj], { stdio: 'pipe' });
  execFileSync('ld', ['-m', 'elf_x86_64', '-T', 'link.ld', '-L', dir, obj, '-o', elf], { cwd: dir, stdio: 'pipe' });
  return elf;
}
