// Compiler builtins and <x86intrin.h> intrinsics that expand to a sensitive instruction, mapped to the
// catalogue class of the instruction gcc emits for them. The C scanner reports calls to them, since
// the instruction is invisible in the C source. gcc 12 emits each of them as plain assembler text
// (verified by the scanner's tests with `gcc -S`), so an afterburner hooked in as `as` still sees them.
//
// Deliberately absent: `__builtin_ia32_pause` (emits `rep nop`/`pause`, which behaves the same at every
// privilege level), `__builtin_ia32_rdrand*`, `__builtin_ia32_rdpid`, the fs/gs-base builtins and
// `__builtin_ia32_wbnoinvd`: none of their instructions is in the catalogue.
import { sensitiveClassByName, type SensitiveClass } from './catalogue.js';

export interface SensitiveBuiltin {
  /** The name called in C. */
  readonly name: string;
  /** The catalogue class (`SensitiveClass.name`) of the instruction it expands to. */
  readonly className: string;
  /** The header that declares it when it is an intrinsic rather than a compiler builtin. */
  readonly header?: string;
}

export const SENSITIVE_BUILTINS: readonly SensitiveBuiltin[] = [
  { name: '__builtin_ia32_rdtsc', className: 'rdtsc' },
  { name: '__builtin_ia32_rdtscp', className: 'rdtscp' },
  { name: '__builtin_ia32_rdpmc', className: 'rdpmc' },
  { name: '__builtin_ia32_readeflags_u32', className: 'pushf' },
  { name: '__builtin_ia32_readeflags_u64', className: 'pushf' },
  { name: '__builtin_ia32_writeeflags_u32', className: 'popf' },
  { name: '__builtin_ia32_writeeflags_u64', className: 'popf' },
  { name: '__builtin_ia32_wbinvd', className: 'wbinvd' },
  { name: '__builtin_trap', className: 'ud2' },
  { name: '__rdtsc', className: 'rdtsc', header: 'x86intrin.h' },
  { name: '_rdtsc', className: 'rdtsc', header: 'x86intrin.h' },
  { name: '__rdtscp', className: 'rdtscp', header: 'x86intrin.h' },
  { name: '_rdtscp', className: 'rdtscp', header: 'x86intrin.h' },
  { name: '__rdpmc', className: 'rdpmc', header: 'x86intrin.h' },
  { name: '_rdpmc', className: 'rdpmc', header: 'x86intrin.h' },
  { name: '__readeflags', className: 'pushf', header: 'x86intrin.h' },
  { name: '__writeeflags', className: 'popf', header: 'x86intrin.h' },
  { name: '_wbinvd', className: 'wbinvd', header: 'x86gprintrin.h' },
];

const builtinByName = new Map<string, SensitiveBuiltin>(SENSITIVE_BUILTINS.map((b) => [b.name, b]));

/** The sensitive class a builtin or intrinsic expands to, or null when it is not sensitive. */
export function sensitiveBuiltin(name: string): { builtin: SensitiveBuiltin; cls: SensitiveClass } | null {
  const builtin = builtinByName.get(name);
  if (!builtin) return null;
  const cls = sensitiveClassByName(builtin.className);
  if (!cls) throw new Error(`builtin ${name} maps to unknown sensitive class '${builtin.className}'`);
  return { builtin, cls };
}
