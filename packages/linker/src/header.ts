// Generates `previrt/annotate.h`: GNU C (and .S) macros with which a kernel marks its sensitive memory
// operations. Each macro emits exactly one access instruction, NOP padding up to the kind's site size,
// and an `.afterburn.<kind-name>` record (format v1, see ./afterburn.ts) pointing at that instruction.
// Kind ids, names and site sizes come from the @previrt/isa catalogue at generation time.
import { ANNOTATED_INSTRUCTION_KINDS, MEMORY_OPERATION_KINDS, nopsDirective, type AnnotatedInstructionKind, type MemoryOperationKind } from '@previrt/isa';
import { AFTERBURN_FORMAT_VERSION } from './afterburn.js';

/** What the access of each memory-operation kind does; the header needs the shape, the catalogue the id. */
type AccessShape = 'entry-store' | 'entry-load' | 'entry-test-and-clear' | 'mmio-load' | 'mmio-store';

const SHAPES: Readonly<Record<string, AccessShape>> = {
  'pte-set': 'entry-store',
  'pte-read': 'entry-load',
  'pte-test-and-clear': 'entry-test-and-clear',
  'pde-set': 'entry-store',
  'pde-read': 'entry-load',
  'mmio-read': 'mmio-load',
  'mmio-write': 'mmio-store',
};

/** Numeric local labels used inside every site; unusual numbers so they do not shadow a kernel's own. */
const L_START = 7741;
const L_INSN_END = 7742;
const L_SITE_END = 7743;

/** The instruction of each annotated-instruction kind (suffix-less: popfl in 32-bit code, popfq in 64-bit). */
const ANNOTATED_INSTRUCTIONS: Readonly<Record<string, string>> = {
  'irq-restore': 'popf',
};

/**
 * An annotated instruction: the kind marker, then the instruction. The afterburner records the
 * instruction as the marker's kind; plain `as` treats the marker as a no-op symbol assignment.
 */
function annotatedStatements(kind: AnnotatedInstructionKind): string[] {
  const insn = ANNOTATED_INSTRUCTIONS[kind.name];
  if (!insn) throw new Error(`no instruction known for annotated-instruction kind '${kind.name}' (add it to the header generator)`);
  return [`.set .Lprevirt_kind, ${hex(kind.id)}`, insn];
}

function cName(kind: { readonly name: string }): string {
  return kind.name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * The assembler text of one site around `insn`, as a list of statements. The pad is
 * `max(0, siteSize - insn_len)` so a long addressing form still gets a record (site_len = insn_len);
 * on i386 a pad of 5 becomes 6.
 * gas comparisons yield -1 for true, hence the negations.
 */
function siteStatements(insn: string, kind: MemoryOperationKind, arch: 'i386' | 'x86_64'): string[] {
  const len = `(${L_INSN_END}b - ${L_START}b)`;
  const size = kind.siteSize;
  const pad = `-((${size} - ${len}) * (${len} < ${size}))`;
  const record = arch === 'x86_64'
    ? ['.balign 8', `.quad ${L_START}b`, `.byte ${L_INSN_END}b - ${L_START}b, ${L_SITE_END}b - ${L_START}b`, `.short ${hex(kind.id)}`, '.long 0']
    : ['.balign 4', `.long ${L_START}b`, `.byte ${L_INSN_END}b - ${L_START}b, ${L_SITE_END}b - ${L_START}b`, `.short ${hex(kind.id)}`];
  return [
    `${L_START}:`,
    insn,
    `${L_INSN_END}:`,
    // i386: GNU as's 32-bit NOPs make a 5-byte pad two NOPs, a 6-byte one one (the afterburner does the same).
    nopsDirective(pad, arch === 'i386' ? 32 : 64),
    `${L_SITE_END}:`,
    `.pushsection .afterburn.${kind.name}, "a"`,
    ...record,
    '.popsection',
  ];
}

/** A C string literal holding the site's statements, one per line (for extended inline asm). */
function cSiteString(insn: string, kind: MemoryOperationKind, arch: 'i386' | 'x86_64'): string {
  const lines = siteStatements(insn, kind, arch).map((s) => JSON.stringify(`${s}\n\t`));
  return lines.join(' ');
}

/** C statements/expressions for one architecture, indented inside its #if branch. */
function cMacrosFor(arch: 'i386' | 'x86_64'): string[] {
  const out: string[] = [];
  const site = (insn: string, kind: MemoryOperationKind) => cSiteString(insn, kind, arch);
  for (const kind of MEMORY_OPERATION_KINDS) {
    const shape = SHAPES[kind.name];
    if (!shape) throw new Error(`no access shape known for memory-operation kind '${kind.name}' (add it to the header generator)`);
    const K = cName(kind);
    switch (shape) {
      case 'entry-store':
        out.push(`#define __PV_STORE32_${K}(p, v) __asm__ __volatile__(${site('movl %1, %0', kind)} : "=m"(*(p)) : "ir"(v) : "memory")`);
        if (arch === 'x86_64') {
          out.push(`#define __PV_STORE64_${K}(p, v) __asm__ __volatile__(${site('movq %1, %0', kind)} : "=m"(*(p)) : "er"(v) : "memory")`);
        }
        break;
      case 'entry-load':
        out.push(`#define __PV_LOAD32_${K}(p) __extension__ ({ unsigned int __pv_v; __asm__ __volatile__(${site('movl %1, %0', kind)} : "=r"(__pv_v) : "m"(*(p)) : "memory"); __pv_v; })`);
        if (arch === 'x86_64') {
          out.push(`#define __PV_LOAD64_${K}(p) __extension__ ({ unsigned long long __pv_v; __asm__ __volatile__(${site('movq %1, %0', kind)} : "=r"(__pv_v) : "m"(*(p)) : "memory"); __pv_v; })`);
        }
        break;
      case 'entry-test-and-clear':
        // A register bit offset addresses the whole bit string, so a 32-bit btr also reaches bits
        // 32..63 of a 64-bit entry; an immediate offset would wrap modulo 32.
        out.push(`#define __PV_BTR_${K}(p, bit) __extension__ ({ unsigned char __pv_old; __asm__ __volatile__(${site('lock btrl %2, %1', kind)} : "=@ccc"(__pv_old), "+m"(*(p)) : "r"((unsigned int)(bit)) : "memory"); (int)__pv_old; })`);
        break;
      case 'mmio-load':
        out.push(`#define __PV_LOAD32_${K}(p) __extension__ ({ unsigned int __pv_v; __asm__ __volatile__(${site('movl %1, %0', kind)} : "=r"(__pv_v) : "m"(*(p)) : "memory"); __pv_v; })`);
        out.push(`#define __PV_LOAD16_${K}(p) __extension__ ({ unsigned short __pv_v; __asm__ __volatile__(${site('movw %1, %0', kind)} : "=r"(__pv_v) : "m"(*(p)) : "memory"); __pv_v; })`);
        out.push(`#define __PV_LOAD8_${K}(p) __extension__ ({ unsigned char __pv_v; __asm__ __volatile__(${site('movb %1, %0', kind)} : "=q"(__pv_v) : "m"(*(p)) : "memory"); __pv_v; })`);
        break;
      case 'mmio-store':
        out.push(`#define __PV_STORE32_${K}(p, v) __asm__ __volatile__(${site('movl %1, %0', kind)} : "=m"(*(p)) : "ir"(v) : "memory")`);
        out.push(`#define __PV_STORE16_${K}(p, v) __asm__ __volatile__(${site('movw %1, %0', kind)} : "=m"(*(p)) : "ir"(v) : "memory")`);
        out.push(`#define __PV_STORE8_${K}(p, v) __asm__ __volatile__(${site('movb %1, %0', kind)} : "=m"(*(p)) : "iq"(v) : "memory")`);
        break;
    }
  }
  return out;
}

/** The annotated-instruction macros, the same for both architectures: `.S` (asm) or C. */
function annotatedInstructionMacros(asm: boolean): string[] {
  return ANNOTATED_INSTRUCTION_KINDS.map((kind) => {
    if (asm) return `#define PV_ASM_${cName(kind)} ${annotatedStatements(kind).join(' ; ')}`;
    // irq-restore: push the image, then the annotated popf; the other flags are clobbered ("cc").
    const body = ['push %0', ...annotatedStatements(kind)].map((l) => JSON.stringify(`${l}\n\t`)).join(' ');
    return `#define ${kind.macro}(flags) __asm__ __volatile__(${body} : : "r"((unsigned long)(flags)) : "memory", "cc")`;
  });
}

/** Public macros, common to both architectures (they dispatch on the entry size). */
function cPublicMacros(): string[] {
  const out: string[] = [];
  const u32p = (p: string) => `((volatile unsigned int *)(${p}))`;
  for (const kind of MEMORY_OPERATION_KINDS) {
    const K = cName(kind);
    const shape = SHAPES[kind.name]!;
    const doc = `/* ${kind.macro}: ${kind.description}; kind ${hex(kind.id)} (${kind.name}), site ${kind.siteSize} bytes. */`;
    out.push(doc);
    switch (shape) {
      case 'entry-store':
        out.push(`#define ${kind.macro}(ptep, val) __builtin_choose_expr(sizeof(*(ptep)) == 8, \\
  __PV_ENTRY_STORE64_${K}((ptep), (val)), \\
  __extension__ ({ __PV_STORE32_${K}(${u32p('ptep')}, (unsigned int)(val)); (void)0; }))`);
        break;
      case 'entry-load':
        out.push(`#define ${kind.macro}(ptep) __builtin_choose_expr(sizeof(*(ptep)) == 8, \\
  __PV_ENTRY_LOAD64_${K}(ptep), \\
  __PV_LOAD32_${K}(${u32p('ptep')}))`);
        break;
      case 'entry-test-and-clear':
        out.push(`#define ${kind.macro}(ptep, bit) __PV_BTR_${K}(${u32p('ptep')}, (bit))`);
        break;
      case 'mmio-load':
        out.push(`#define ${kind.macro}(addr) __PV_LOAD32_${K}(${u32p('addr')})`);
        out.push(`#define ${kind.macro}16(addr) __PV_LOAD16_${K}(((volatile unsigned short *)(addr)))`);
        out.push(`#define ${kind.macro}8(addr) __PV_LOAD8_${K}(((volatile unsigned char *)(addr)))`);
        break;
      case 'mmio-store':
        out.push(`#define ${kind.macro}(addr, val) do { __PV_STORE32_${K}(${u32p('addr')}, (unsigned int)(val)); } while (0)`);
        out.push(`#define ${kind.macro}16(addr, val) do { __PV_STORE16_${K}(((volatile unsigned short *)(addr)), (unsigned short)(val)); } while (0)`);
        out.push(`#define ${kind.macro}8(addr, val) do { __PV_STORE8_${K}(((volatile unsigned char *)(addr)), (unsigned char)(val)); } while (0)`);
        break;
    }
  }
  return out;
}

/** 64-bit entry helpers per architecture: one movq on x86_64, two 32-bit sites on i386 (PAE). */
function cEntry64Helpers(arch: 'i386' | 'x86_64'): string[] {
  const out: string[] = [];
  const u32p = (p: string) => `((volatile unsigned int *)(${p}))`;
  const u64p = (p: string) => `((volatile unsigned long long *)(${p}))`;
  for (const kind of MEMORY_OPERATION_KINDS) {
    const K = cName(kind);
    const shape = SHAPES[kind.name]!;
    if (shape === 'entry-store') {
      out.push(arch === 'x86_64'
        ? `#define __PV_ENTRY_STORE64_${K}(ptep, val) __extension__ ({ __PV_STORE64_${K}(${u64p('ptep')}, (unsigned long long)(val)); (void)0; })`
        // The high half first, then the low half with the present bit, as Linux's PAE set_pte does.
        : `#define __PV_ENTRY_STORE64_${K}(ptep, val) __extension__ ({ unsigned long long __pv_e = (unsigned long long)(val); \\
  __PV_STORE32_${K}(${u32p('ptep')} + 1, (unsigned int)(__pv_e >> 32)); \\
  __PV_STORE32_${K}(${u32p('ptep')}, (unsigned int)__pv_e); (void)0; })`);
    } else if (shape === 'entry-load') {
      out.push(arch === 'x86_64'
        ? `#define __PV_ENTRY_LOAD64_${K}(ptep) __PV_LOAD64_${K}(${u64p('ptep')})`
        : `#define __PV_ENTRY_LOAD64_${K}(ptep) __extension__ ({ unsigned int __pv_lo = __PV_LOAD32_${K}(${u32p('ptep')}); \\
  unsigned int __pv_hi = __PV_LOAD32_${K}(${u32p('ptep')} + 1); \\
  ((unsigned long long)__pv_hi << 32) | __pv_lo; })`);
    }
  }
  return out;
}

/** cpp macros for `.S` files: a whole site around one instruction, `;`-separated for one line. */
function asmSiteMacros(arch: 'i386' | 'x86_64'): string[] {
  const out: string[] = [];
  for (const kind of MEMORY_OPERATION_KINDS) {
    const body = siteStatements('__VA_ARGS__', kind, arch).join(' ; ');
    out.push(`#define PV_ASM_${cName(kind)}(...) ${body}`);
  }
  return out;
}

/** The text of `previrt/annotate.h`. Pure: same catalogue, same bytes. */
export function generateAnnotateHeader(): string {
  const kinds = MEMORY_OPERATION_KINDS;
  const lines: string[] = [];
  const push = (...l: string[]) => lines.push(...l);
  push(
    '/* previrt/annotate.h: annotation macros for sensitive memory operations.',
    ' * Generated by `previrt header` from the @previrt/isa catalogue; do not edit, regenerate.',
    ' *',
    ' * Each macro emits exactly one access instruction (a mov, or lock btr for test-and-clear), NOP',
    ' * padding up to the kind\'s site size, and a record in section .afterburn.<kind-name>',
    ` * (.afterburn format v${AFTERBURN_FORMAT_VERSION}: ELF32 { u32 site_address; u8 insn_len; u8 site_len; u16 kind },`,
    ' * ELF64 { u64 site_address; u8 insn_len; u8 site_len; u16 kind; u32 zero }). Collect the records',
    ' * with the linker-script fragment from `previrt ldscript`.',
    ' *',
    ' * Entries are integers of 4 or 8 bytes (chosen by sizeof(*ptep)). On i386 an 8-byte (PAE) entry is',
    ' * accessed as two 32-bit halves, each its own site (store: high half first, then low).',
    ' * PV_NO_AFTERBURN_BEGIN / PV_NO_AFTERBURN_END leave a region alone (code that runs before any VMM).',
    ' *',
    ' * Annotated instructions: PV_IRQ_RESTORE(flags) is `push flags; popf` for a restore of the interrupt',
    ' * flag alone (local_irq_restore): the image may differ from the current flags in IF only, and no',
    ' * code reads the arithmetic flags after it (they are clobbered). The afterburner records that popf',
    ' * as its own kind, which below ring 0 needs no real popf; a build without it gets a plain popf.',
    ' * In .S files PV_ASM_IRQ_RESTORE is the popf (push the image first).',
    ' */',
    '#ifndef PREVIRT_ANNOTATE_H',
    '#define PREVIRT_ANNOTATE_H',
    '',
    `#define PV_AFTERBURN_FORMAT_VERSION ${AFTERBURN_FORMAT_VERSION}`,
    '',
    '/* Record kinds (ids) and minimum site sizes in bytes, from the catalogue. */',
  );
  for (const k of [...kinds, ...ANNOTATED_INSTRUCTION_KINDS]) push(`#define PV_KIND_${cName(k)} ${hex(k.id)}`);
  for (const k of [...kinds, ...ANNOTATED_INSTRUCTION_KINDS]) push(`#define PV_SITE_SIZE_${cName(k)} ${k.siteSize}`);
  push(
    '',
    '#if !defined(__i386__) && !defined(__x86_64__)',
    '#error "previrt/annotate.h supports i386 and x86_64 only"',
    '#endif',
    '',
    '#ifdef __ASSEMBLER__',
    '',
    '/* Exclusion markers: plain `as` treats them as no-ops that change no byte of the object. */',
    '#define PV_NO_AFTERBURN_BEGIN .set .Lprevirt_off, 1',
    '#define PV_NO_AFTERBURN_END .set .Lprevirt_off, 0',
    '',
    '/* PV_ASM_<KIND>(instruction): one annotated access in a .S file, e.g. PV_ASM_PTE_SET(movl %eax, (%ebx)). */',
    '#ifdef __x86_64__',
    ...asmSiteMacros('x86_64'),
    '#else',
    ...asmSiteMacros('i386'),
    '#endif',
    ...annotatedInstructionMacros(true),
    '',
    '#else /* C */',
    '',
    '#define PV_NO_AFTERBURN_BEGIN __asm__(".set .Lprevirt_off, 1")',
    '#define PV_NO_AFTERBURN_END __asm__(".set .Lprevirt_off, 0")',
    '',
    '#ifdef __x86_64__',
    ...cMacrosFor('x86_64'),
    ...cEntry64Helpers('x86_64'),
    '#else',
    ...cMacrosFor('i386'),
    ...cEntry64Helpers('i386'),
    '#endif',
    '',
    ...cPublicMacros(),
    ...annotatedInstructionMacros(false),
    '',
    '#endif /* __ASSEMBLER__ */',
    '#endif /* PREVIRT_ANNOTATE_H */',
    '',
  );
  return lines.join('\n');
}

/** Memory-operation kinds with the public macro names the header defines for each (for docs/tests). */
export function annotationMacros(): { kind: MemoryOperationKind; macros: string[] }[] {
  return MEMORY_OPERATION_KINDS.map((kind) => {
    const shape = SHAPES[kind.name];
    const macros = shape === 'mmio-load' || shape === 'mmio-store'
      ? [kind.macro, `${kind.macro}16`, `${kind.macro}8`]
      : [kind.macro];
    return { kind, macros };
  });
}
