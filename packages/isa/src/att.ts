// Recognising sensitive instructions in AT&T assembly text (GNU as input, objdump output), from the
// catalogue's `att` match rules. Used by the afterburner (rewriting gcc's output) and the scanner
// (inline asm templates).
import { SENSITIVE_CLASSES, type SensitiveClass, type AttMatch } from './catalogue.js';

/** Instruction prefixes GNU as accepts as separate words before a mnemonic. */
export const ATT_PREFIXES: ReadonlySet<string> = new Set([
  'lock', 'rep', 'repe', 'repz', 'repne', 'repnz', 'data16', 'data32', 'addr16', 'addr32',
  'rex', 'rex64', 'rex.w', 'cs', 'ds', 'es', 'fs', 'gs', 'ss', 'notrack', 'bnd', 'xacquire', 'xrelease',
  'wait',
]);

const SEGMENT_REGISTER = /^%(cs|ds|es|fs|gs|ss)$/;
const CONTROL_REGISTER = /^%cr([0-9]|1[0-5])$/;
const DEBUG_REGISTER = /^%d[br][0-7]$/;

const byMnemonic = new Map<string, SensitiveClass[]>();
for (const cls of SENSITIVE_CLASSES) {
  for (const m of cls.att.mnemonics) {
    const list = byMnemonic.get(m) ?? [];
    list.push(cls);
    byMnemonic.set(m, list);
  }
}

function operandMatches(rule: AttMatch['operand'], operands: readonly string[]): boolean {
  if (rule === undefined) return true;
  // AT&T order: sources first, destination last. A one-operand push has only a source; a
  // one-operand pop has only a destination.
  const dst = operands[operands.length - 1];
  const src = operands.length > 1 ? operands[0] : operands[0];
  switch (rule) {
    case 'segment-destination': return dst !== undefined && SEGMENT_REGISTER.test(dst);
    case 'segment-source': return src !== undefined && SEGMENT_REGISTER.test(src) && (operands.length === 1 || !SEGMENT_REGISTER.test(dst!));
    case 'control-destination': return dst !== undefined && CONTROL_REGISTER.test(dst);
    case 'control-source': return operands.length === 2 && CONTROL_REGISTER.test(operands[0]!);
    case 'debug-destination': return dst !== undefined && DEBUG_REGISTER.test(dst);
    case 'debug-source': return operands.length === 2 && DEBUG_REGISTER.test(operands[0]!);
  }
}

/**
 * The sensitive class of one AT&T instruction, or null. `mnemonic` is the word after any prefixes
 * (see ATT_PREFIXES); `operands` are the comma-separated operands, trimmed. Case is ignored, as GNU as
 * ignores it.
 */
export function classifyAtt(mnemonic: string, operands: readonly string[]): SensitiveClass | null {
  const m = mnemonic.toLowerCase();
  const ops = operands.map((o) => o.trim().toLowerCase());
  // `jmp $sel,$off` / `call $sel,$off` are GNU as spellings of the direct far forms.
  if (ops.length === 2 && ops[0]!.startsWith('$') && ops[1]!.startsWith('$')) {
    const far = /^(jmp|call)[wlq]?$/.exec(m);
    if (far) return classifyAtt('l' + m, ops);
  }
  const candidates = byMnemonic.get(m);
  if (!candidates) return null;
  for (const cls of candidates) {
    if (cls.att.operand === undefined || operandMatches(cls.att.operand, ops)) return cls;
  }
  return null;
}

/**
 * Splits an instruction statement's leading words into prefixes and the mnemonic, e.g.
 * `rep outsb` → { prefixes: ['rep'], mnemonic: 'outsb', rest: '' }. Returns null for a bare prefix.
 */
export function splitAttStatement(statement: string): { prefixes: string[]; mnemonic: string; rest: string } | null {
  const prefixes: string[] = [];
  let rest = statement.trim();
  for (;;) {
    const m = /^([A-Za-z_.][\w.]*)(?:\s+|$)/.exec(rest);
    if (!m) return null;
    const word = m[1]!;
    rest = rest.slice(m[0].length);
    if (ATT_PREFIXES.has(word.toLowerCase()) && rest.length > 0 && /^[A-Za-z]/.test(rest)) {
      prefixes.push(word);
      continue;
    }
    return { prefixes, mnemonic: word, rest };
  }
}

/**
 * Splits an AT&T operand list at top-level commas (not inside parentheses), e.g.
 * `%eax,(%ebx,%ecx,4)` → ['%eax', '(%ebx,%ecx,4)'].
 */
export function splitAttOperands(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last.length > 0 || out.length > 0) out.push(last);
  return out;
}

/**
 * Whether an AT&T mnemonic can name a sensitive instruction with some operands (cheap first test
 * before splitting operands and calling classifyAtt). Case is ignored.
 */
export function mayBeSensitiveAtt(mnemonic: string): boolean {
  const m = mnemonic.toLowerCase();
  return byMnemonic.has(m) || /^(jmp|call)[wlq]?$/.test(m);
}

/**
 * Source text of a pattern for a register that can make `mov`, `push` or `pop` sensitive: a segment,
 * control or debug register, as a whole name (`%es`, not the start of `%esi`). For building larger
 * patterns (case-insensitive, as GNU as reads register names).
 */
export const ATT_SPECIAL_REGISTER_SOURCE = '%(?:[cdefgs]s|cr\\d+|d[br]\\d)(?![\\w])';

const SPECIAL_REGISTER = new RegExp(ATT_SPECIAL_REGISTER_SOURCE, 'i');

/** The catalogue's AT&T mnemonics, by what else an instruction needs to be sensitive. */
export interface AttMnemonicGroups {
  /** Sensitive with any operands (for some class), or needing a full classifyAtt to tell. */
  unconditional: string[];
  /** Sensitive only with a segment, control or debug register operand (ATT_SPECIAL_REGISTER_SOURCE). */
  withSpecialRegister: string[];
  /** Sensitive only with two immediates (`jmp $sel,$off`, `call $sel,$off`: direct far forms). */
  withImmediates: string[];
}

/**
 * Every mnemonic mayBeSensitiveAtt accepts (lower case), grouped so that a caller can build one
 * pattern that finds the lines worth classifying: a line whose mnemonic is in none of the groups, or
 * in a conditional group without what it needs, never gets a class from classifyAtt.
 */
export function attMnemonicGroups(): AttMnemonicGroups {
  const unconditional: string[] = [];
  const withSpecialRegister: string[] = [];
  for (const [m, classes] of byMnemonic) {
    (classes.some((c) => c.att.operand === undefined) ? unconditional : withSpecialRegister).push(m);
  }
  const withImmediates = ['jmp', 'call'].flatMap((m) => [m, `${m}w`, `${m}l`, `${m}q`]).filter((m) => !byMnemonic.has(m));
  return { unconditional, withSpecialRegister, withImmediates };
}

/**
 * Cheap pre-test on a whole instruction: false when classifyAtt(mnemonic, operands) is surely null
 * because the mnemonic is sensitive only with a segment, control or debug register operand
 * (`mov`, `push`, `pop`) and `operandText` names none. True otherwise (classify to be sure).
 */
export function attOperandsMayMatter(mnemonic: string, operandText: string): boolean {
  const candidates = byMnemonic.get(mnemonic.toLowerCase());
  if (!candidates || candidates.some((c) => c.att.operand === undefined)) return true;
  return SPECIAL_REGISTER.test(operandText);
}
