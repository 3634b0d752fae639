// The lint rules. Rule ids are stable (they appear in diagnostics, JSON, SARIF and configuration).
// The memory-operation rules are named after the catalogue's memory-operation kinds, so a finding's
// rule id says which annotation macro marks it.
import { MEMORY_OPERATION_KINDS, type MemoryOperationKind } from '@previrt/isa';

export type Severity = 'error' | 'warning' | 'note';
export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'note'];

export function severityRank(s: Severity): number {
  return s === 'error' ? 3 : s === 'warning' ? 2 : 1;
}

export interface RuleInfo {
  readonly id: string;
  readonly name: string;
  readonly defaultSeverity: Severity;
  readonly short: string;
  readonly full: string;
  /** The memory-operation kind whose macro annotates a finding of this rule. */
  readonly kind?: MemoryOperationKind;
}

function memoryRule(kind: MemoryOperationKind, full: string): RuleInfo {
  return {
    id: kind.name,
    name: kind.name.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase()),
    defaultSeverity: 'warning',
    short: `Unannotated ${kind.description}`,
    full: `${full} Wrap it in ${kind.macro} from <previrt/annotate.h> so the in-place VMM can rewrite it.`,
    kind,
  };
}

const kindByName = new Map(MEMORY_OPERATION_KINDS.map((k) => [k.name, k]));
function kind(name: string): MemoryOperationKind {
  const k = kindByName.get(name);
  if (!k) throw new Error(`memory-operation kind '${name}' is missing from the @previrt/isa catalogue`);
  return k;
}

export const RULES: readonly RuleInfo[] = [
  {
    id: 'asm-sensitive',
    name: 'AsmSensitive',
    defaultSeverity: 'note',
    short: 'Sensitive instruction in inline assembly (handled by the afterburner)',
    full: 'The inline assembly template contains a virtualization-sensitive instruction as text. The afterburner '
      + 'sees it in the compiler output and pads and records it; nothing needs to change in the source.',
  },
  {
    id: 'hidden-instruction',
    name: 'HiddenInstruction',
    defaultSeverity: 'error',
    short: 'Sensitive instruction hidden in a data directive',
    full: 'A .byte/.word/.long directive (in inline assembly, a macro string or a .S file) encodes a '
      + 'virtualization-sensitive instruction. The afterburner only sees data, so it cannot pad or record the '
      + 'site: write the instruction as a mnemonic instead. Traps that every hypervisor reflects to the guest '
      + '(ud2, int3) are reported as notes.',
  },
  {
    id: 'builtin-sensitive',
    name: 'BuiltinSensitive',
    defaultSeverity: 'note',
    short: 'Compiler builtin that expands to a sensitive instruction',
    full: 'The builtin or intrinsic expands to a virtualization-sensitive instruction that the C source does not '
      + 'show. gcc emits it as assembler text, so the afterburner hooked in as `as` pads it; raise this rule to '
      + 'error for builds whose assembler text the afterburner never sees (for example an integrated assembler).',
  },
  memoryRule(kind('pte-set'), 'A store to a page-table entry (by the entry types and setter names of the configuration).'),
  memoryRule(kind('pte-read'), 'A load of a page-table entry: the hypervisor may keep the accessed and dirty bits elsewhere.'),
  memoryRule(kind('pte-test-and-clear'), 'An atomic test-and-clear of a page-table entry bit.'),
  memoryRule(kind('pde-set'), 'A store to a page-directory entry (pmd_t, pgd_t, pud_t, pde_t and the other upper levels).'),
  memoryRule(kind('pde-read'), 'A load of a page-directory entry.'),
  memoryRule(kind('mmio-read'), 'A read of a memory-mapped device register: a volatile dereference of a device address or a readl-style accessor.'),
  memoryRule(kind('mmio-write'), 'A write of a memory-mapped device register: a volatile store to a device address or a writel-style accessor.'),
  {
    id: 'scan-error',
    name: 'ScanError',
    defaultSeverity: 'error',
    short: 'File could not be scanned',
    full: 'The file could not be read or decoded as text, so it was not checked.',
  },
];

const ruleById = new Map(RULES.map((r) => [r.id, r]));

export function ruleInfo(id: string): RuleInfo {
  const r = ruleById.get(id);
  if (!r) throw new Error(`unknown lint rule '${id}'`);
  return r;
}

export function isRuleId(id: string): boolean {
  return ruleById.has(id);
}
