// The afterburner proper: a pure function from GNU as (AT&T) text to GNU as text in which every
// sensitive instruction (as the `isa` catalogue classifies it) has become a site: a start label, the
// instruction, NOP padding up to the class's site size computed by the assembler from labels, and a
// record in section `.afterburn` (format v1, see packages/linker). A sensitive instruction left alone
// between the exclusion markers keeps its bytes and gets a record in the non-allocated section
// `.afterburn_excluded` instead, so that `previrt check` can tell it from a forgotten one. Everything
// added goes on the line of the instruction it belongs to, so line numbers (and the assembler's
// diagnostics) stay those of the input.
import {
  ATT_PREFIXES, annotatedInstructionKindById, attNeedsSite, attOperandsMayMatter, classifyAtt, encodeNops, encodeNops16, kindSiteSize,
  mayBeSensitiveAtt, nopsDirective, splitAttOperands,
  splitAttStatement,
  type SensitiveClass,
} from '@previrt/isa';
import { candidatePattern } from './candidates.js';
import { lexLine, type Statement } from './lexer.js';

export type ElfClass = 32 | 64;
export type CodeMode = 16 | 32 | 64;

export interface RewriteOptions {
  /** Record layout: ELF32 (`.long` addresses, 8-byte records) or ELF64 (`.quad`, 16 bytes). Default: 64 when the input says `.code64`, else 32. */
  elfClass?: ElfClass;
  /** Code mode at the top of the input. Default: 64 for ELF64, else 32. */
  mode?: CodeMode;
  /** Name used in diagnostics. */
  fileName?: string;
  /** Distinguishes the labels of inputs that are assembled together (`as a.s b.s`). */
  labelTag?: string;
  /**
   * Called for each `.include "file"`: returns the name to include instead (a rewritten copy), or
   * null to leave the directive alone. Without it, included files are not looked at.
   */
  include?: (file: string, line: number) => string | null;
  /**
   * Look at every line in JavaScript instead of letting one regular expression find the lines that
   * may matter (slower; the result is the same, which the tests check).
   */
  lineByLine?: boolean;
}

export interface Site {
  /** 1-based line and column of the instruction in the input. */
  line: number;
  column: number;
  kind: number;
  className: string;
  /** The instruction statement as written (prefixes included). */
  text: string;
  mode: CodeMode;
  /** Inside a `.macro`, `.rept`, `.irp` or `.irpc` body: one record per expansion. */
  repeated: boolean;
}

export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning' | 'note';
  message: string;
  rule: string;
}

/** A sensitive instruction that did not become a site, and why. */
export interface Skipped {
  line: number;
  column: number;
  kind: number;
  className: string;
  /**
   * Inside an exclusion region, a keepLayout class (int3), or a form every back end keeps as it is
   * (`push %ds`: only %cs and %ss carry the CPL), which needs no site.
   */
  reason: 'excluded' | 'keep-layout' | 'kept-everywhere';
}

export interface RewriteResult {
  text: string;
  sites: Site[];
  skipped: Skipped[];
  diagnostics: Diagnostic[];
}


const LABEL = /(?:[A-Za-z_.$][\w.$]*|\d+)[ \t]*:(?![:=])/y;
const DIRECTIVE = /\.[A-Za-z_][\w.]*/y;
const WORD = /[A-Za-z_][\w.]*/y;
const NUMERIC_LABEL_DEF = /(?:^|[;\s])(\d+)[ \t]*:(?![:=])/g;
const OFF_MARKER = /^\s*previrt:(off|on)\b/;

/** The exclusion markers of the contract (`.set .Lprevirt_off, 1/0`), as the directive's operands. */
function offMarkerValue(operands: string): boolean | null {
  const m = /^\s*\.Lprevirt_off\s*,\s*(\S+)\s*$/.exec(operands);
  if (!m) return null;
  return m[1] !== '0';
}

/**
 * The annotation of an instruction's kind (`.set .Lprevirt_kind, <id>`, from previrt/annotate.h):
 * the next sensitive instruction is recorded as that annotated kind instead of its plain class.
 */
function kindMarkerValue(operands: string): number | null {
  const m = /^\s*\.Lprevirt_kind\s*,\s*(0x[0-9a-f]+|\d+)\s*$/i.exec(operands);
  return m ? Number(m[1]) : null;
}

/** Directives the rewriter acts on (everything else passes through untouched). */
const DIRECTIVES = new Set(['.macro', '.rept', '.irp', '.irpc', '.endm', '.endr', '.code16', '.code16gcc', '.code32',
  '.code64', '.intel_syntax', '.att_syntax', '.end', '.include', '.set', '.equ']);
const mnemonicCache = new Map<string, boolean>();
// Compiler output repeats the same few thousand statements (`movl %eax, %edx`): remember answers.
const statementCache = new Map<string, SensitiveClass | null>();

function classifyCached(mnemonic: string, rest: string): SensitiveClass | null {
  const key = `${mnemonic} ${rest}`;
  let cls = statementCache.get(key);
  if (cls === undefined) {
    cls = classifyAtt(mnemonic, splitAttOperands(rest));
    if (statementCache.size > 50000) statementCache.clear();
    statementCache.set(key, cls);
  }
  return cls;
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 36;
}

/**
 * For a line with one statement and no comment or string: false when its first word (after any
 * labels) is neither a directive the rewriter acts on nor a possibly sensitive mnemonic or prefix.
 */
function mayMatter(text: string, from: number, to: number, macros: ReadonlyMap<string, MacroInfo>, intel: boolean): boolean {
  let p = from;
  for (;;) {
    while (p < to && (text.charCodeAt(p) === 32 || text.charCodeAt(p) === 9)) p++;
    const start = p;
    while (p < to && isWordChar(text.charCodeAt(p))) p++;
    if (p === start) return p < to && text.charCodeAt(p) !== 13; // not a word: let the full parser decide
    let q = p;
    while (q < to && (text.charCodeAt(q) === 32 || text.charCodeAt(q) === 9)) q++;
    if (q < to && text.charCodeAt(q) === 58 /* : */ && text.charCodeAt(q + 1) !== 58 && text.charCodeAt(q + 1) !== 61) {
      p = q + 1; // a label
      continue;
    }
    const word = text.slice(start, p);
    if (text.charCodeAt(start) === 46 /* . */) return DIRECTIVES.has(word.toLowerCase());
    if (macros.has(word)) return true;
    let hit = mnemonicCache.get(word);
    if (hit === undefined) {
      hit = mayBeSensitiveAtt(word) || ATT_PREFIXES.has(word.toLowerCase());
      mnemonicCache.set(word, hit);
    }
    if (!hit) return false;
    // `movl %eax, 8(%esp)` cannot be sensitive: only some operands make mov, push or pop so (unless
    // the operands are macro parameters, or Intel syntax, where registers carry no %).
    const operands = text.slice(p, to);
    return intel || operands.includes('\\') || attOperandsMayMatter(word, operands);
  }
}

function indexOrEnd(text: string, c: string, from: number): number {
  const i = text.indexOf(c, from);
  return i < 0 ? text.length : i;
}

interface Body {
  kind: 'macro' | 'repeat';
  /** Code mode where the body was written. */
  mode: CodeMode;
  /** For a macro: its name and parameter names. */
  macro?: MacroInfo;
}

interface MacroInfo {
  name: string;
  params: string[];
  defaults: Map<string, string>;
  /** Argument lists of the invocations seen, by parameter name. */
  invocations: Map<string, string>[];
}

/** A statement in a macro body that names a parameter (`1: \\op`): decided per invocation at the end. */
interface ParameterizedStatement {
  macro: MacroInfo;
  /** 0-based line number, and the offset where the line starts in the input. */
  line: number;
  lineFrom: number;
  start: number;
  codeEnd: number;
  code: string;
  mode: CodeMode;
  /** Inside an exclusion region: excluded records instead of sites. */
  excluded: boolean;
}

/** Whether a statement is sensitive with its parameters unexpanded (`movl %cr3, \\reg` is). */
function sensitiveAsWritten(code: string): boolean {
  const split = splitAttStatement(code);
  return split !== null && classifyAtt(split.mnemonic, splitAttOperands(split.rest)) !== null;
}

/** `.macro name a, b=1, c:req` → name and parameter names. */
function parseMacroHeader(rest: string): MacroInfo | null {
  const m = /^\s*([A-Za-z_.$][\w.$]*)\s*,?\s*(.*)$/.exec(rest);
  if (!m) return null;
  const params: string[] = [];
  const defaults = new Map<string, string>();
  for (const p of m[2]!.split(/\s*,\s*|\s+(?![=\s])/)) {
    const d = /^([A-Za-z_]\w*)(?::\w+)?(?:\s*=\s*(.*))?$/.exec(p.trim());
    if (!d) continue;
    params.push(d[1]!);
    if (d[2] !== undefined && d[2] !== '') defaults.set(d[1]!, d[2].trim());
  }
  return { name: m[1]!, params, defaults, invocations: [] };
}

/** The arguments of one invocation `name a, b` / `name a b` / `name b=1`, by parameter name. */
function parseInvocation(macro: MacroInfo, rest: string): Map<string, string> {
  const args = new Map<string, string>(macro.defaults);
  const words = splitAttOperands(rest).length > 1 ? splitAttOperands(rest) : rest.trim().split(/\s+/).filter((w) => w.length > 0);
  let k = 0;
  for (const w of words) {
    const named = /^([A-Za-z_]\w*)\s*=\s*(.*)$/.exec(w);
    if (named && macro.params.includes(named[1]!)) args.set(named[1]!, named[2]!.trim());
    else if (k < macro.params.length) {
      if (w.trim() !== '') args.set(macro.params[k]!, w.trim());
      k++;
    }
  }
  return args;
}

/** Text to put at an offset of a line: [offset, text, characters it replaces (default 0: inserted)]. */
type Edit = [number, string, number?];

/** Chooses label names that cannot collide with the program's own. */
class LabelScheme {
  private prefix = '';
  private nextNumeric = -1;
  private nextNamed = 0;

  constructor(private readonly source: string, private readonly tag: string) {}

  named(): { start: string; insn: string; end: string; ref: (l: string) => string } {
    if (this.prefix === '') {
      // Chosen on first use (an input without sites needs none). A short search first: V8 finds a
      // pattern of a few rare letters much faster than the whole prefix.
      let prefix = `.Lafterburn${this.tag}_`;
      if (this.source.includes('burn')) {
        for (let k = 0; this.source.includes(prefix); k++) prefix = `.Lafterburn${this.tag}x${k}_`;
      }
      this.prefix = prefix;
    }
    const k = this.nextNamed++;
    const base = `${this.prefix}${k}`;
    return { start: `${base}s`, insn: `${base}i`, end: `${base}e`, ref: (l) => l };
  }

  numeric(): { start: string; insn: string; end: string; ref: (l: string) => string } {
    if (this.nextNumeric < 0) {
      // Numeric labels are used only inside repeated bodies; start far above any the program uses.
      let max = 0;
      for (const m of this.source.matchAll(NUMERIC_LABEL_DEF)) max = Math.max(max, Number(m[1]));
      this.nextNumeric = Math.max(970000000, max + 1);
    }
    const k = this.nextNumeric;
    this.nextNumeric += 3;
    return { start: String(k), insn: String(k + 1), end: String(k + 2), ref: (l) => `${l}b` };
  }
}

/** Bytes as `.byte` operands ("0x8d,0x74,0"). */
const byteList = (bytes: Uint8Array) => [...bytes].map((b) => (b === 0 ? '0' : `0x${b.toString(16)}`)).join(',');
// The NOP encodings come from @previrt/isa: the one-byte nop, and the 16-bit NOPs of each length
// (the 4-byte one as the little-endian value `.fill` repeats).
const NOP1 = byteList(encodeNops(1));
const [NOP16_1, NOP16_2, NOP16_3] = [1, 2, 3].map((n) => byteList(encodeNops16(n)));
const NOP16_4 = `0x${new DataView(encodeNops16(4).buffer).getUint32(0, true).toString(16)}`;

type PadStyle = 'nops' | 'nops32' | 'nops16' | 'fill90';

/**
 * Padding from the end of the instruction up to `size` bytes after `start`. The pad length is an
 * assembler expression: `(size-len) & (len<size)` (GNU as comparisons give -1 for true), so an
 * instruction longer than its site gets none. GNU as 2.40 emits 32-bit NOP forms for `.nops` in
 * 16-bit code under `--64`, and a jump over long pads in 16-bit code under `--32`, so 16-bit code
 * gets explicit 16-bit NOPs (isa encodeNops16: lea 0(%si),%si in 4 and 3 bytes, mov %si,%si, nop).
 */
function padding(style: PadStyle, len: string, size: number): string {
  const pad = `((${size}-${len})&(${len}<${size}))`;
  switch (style) {
    case 'nops':
      return nopsDirective(pad, 64);
    case 'nops32':
      // GNU as's 32-bit NOPs (lea forms, 7 bytes at most) make a 5-byte pad two NOPs and a 6-byte
      // one one: a pad of 5 becomes 6 (the site one byte longer), one NOP fewer to run where it is kept.
      return nopsDirective(pad, 32);
    case 'fill90':
      return `.skip ${pad},${NOP1}`;
    case 'nops16':
      return `.fill ${pad}/4,4,${NOP16_4};.if ${pad}%4==3;.byte ${NOP16_3};.elseif ${pad}%4==2;.byte ${NOP16_2};` +
        `.elseif ${pad}%4==1;.byte ${NOP16_1};.endif`;
  }
}

/**
 * The site text for a macro-body statement whose instruction comes from parameters, e.g. Linux's
 * `.macro op_safe_regs op` with `1: \\op` invoked as `op_safe_regs rdmsr` and `op_safe_regs wrmsr`:
 * each invocation seen in the file is substituted and classified, and the padding and record are
 * assembled only under `.ifc` on those arguments, so each expansion gets the record of its own kind.
 */
function parameterizedSite(
  ps: ParameterizedStatement, elfClass: ElfClass, labels: LabelScheme, has16: () => boolean, sites: Site[], skipped: Skipped[],
): Edit[] | null {
  const used = ps.macro.params.filter((p) => new RegExp(`\\\\${p}(?![\\w])`).test(ps.code));
  if (used.length === 0) return null;
  const branches = new Map<string, { cls: SensitiveClass; args: [string, string][] }>();
  for (const inv of ps.macro.invocations) {
    const args: [string, string][] = used.map((p) => [p, inv.get(p) ?? '']);
    if (args.some(([, v]) => !/^[\w.%$]+$/.test(v))) continue; // only plain words can be compared with .ifc
    let text = ps.code;
    for (const [p, v] of args) text = text.replace(new RegExp(`\\\\${p}(\\\\\\(\\))?(?![\\w])`, 'g'), v);
    const split = splitAttStatement(text);
    if (!split) continue;
    const cls = classifyAtt(split.mnemonic, splitAttOperands(split.rest));
    if (!cls || (cls.keepLayout && !ps.excluded)) continue;
    branches.set(args.map(([p, v]) => `${p}=${v}`).join(','), { cls, args });
  }
  if (branches.size === 0) return null;
  const names = labels.numeric();
  const s = names.ref(names.start);
  const len = `(${names.ref(names.insn)}-${s})`;
  const style: PadStyle = ps.mode === 16 ? 'nops16' : has16() ? 'fill90' : ps.mode === 32 ? 'nops32' : 'nops';
  let suffix = `;${names.insn}:`;
  for (const { cls, args } of branches.values()) {
    const size = kindSiteSize(cls.id)!;
    const open = args.map(([p, v]) => `.ifc \\${p},${v};`).join('');
    const close = args.map(() => ';.endif').join('');
    if (ps.excluded) {
      suffix += `${open}${excludedRecord(elfClass, s, len, cls.id)}${close};`;
      skipped.push({ line: ps.line + 1, column: ps.start + 1, kind: cls.id, className: cls.name, reason: 'excluded' });
      continue;
    }
    suffix += `${open}${padding(style, len, size)};${names.end}:;${record(elfClass, s, len, `(${names.ref(names.end)}-${s})`, cls.id)}${close};`;
    sites.push({ line: ps.line + 1, column: ps.start + 1, kind: cls.id, className: cls.name, text: ps.code.trim(), mode: ps.mode, repeated: true });
  }
  return [[ps.start, `${names.start}:`], [ps.codeEnd, suffix.slice(0, -1)]];
}

function record(elfClass: ElfClass, start: string, len: string, siteLen: string, kind: number): string {
  return elfClass === 64
    ? `.pushsection .afterburn,"a";.balign 8;.quad ${start};.byte ${len},${siteLen};.short ${kind};.long 0;.popsection`
    : `.pushsection .afterburn,"a";.balign 4;.long ${start};.byte ${len},${siteLen};.short ${kind};.popsection`;
}

/**
 * The record of an instruction left alone between the exclusion markers: same layout, site_len =
 * insn_len, in `.afterburn_excluded`, which has no flags (not allocated: the loaded image and the
 * loader's table do not change; only `previrt check` reads it).
 */
function excludedRecord(elfClass: ElfClass, start: string, len: string, kind: number): string {
  return elfClass === 64
    ? `.pushsection .afterburn_excluded,"",@progbits;.balign 8;.quad ${start};.byte ${len},${len};.short ${kind};.long 0;.popsection`
    : `.pushsection .afterburn_excluded,"",@progbits;.balign 4;.long ${start};.byte ${len},${len};.short ${kind};.popsection`;
}

/** Intel-syntax operands in AT&T form (reversed, registers with `%`), only to ask classifyAtt. */
function intelOperandsAsAtt(operands: string[]): string[] {
  return operands.map((o) => o.trim()).reverse().map((o) => (/^[a-z][a-z0-9]*$/i.test(o) ? `%${o}` : o));
}

export function rewrite(source: string, options: RewriteOptions = {}): RewriteResult {
  const file = options.fileName ?? '<input>';
  const lineByLine = options.lineByLine === true;
  const elfClass: ElfClass = options.elfClass ?? (source.includes('.code64') ? 64 : 32);
  let mode: CodeMode = options.mode ?? (elfClass === 64 ? 64 : 32);
  // Whether the input has 16-bit code anywhere (for the padding of macro bodies), asked when needed.
  let has16Cache: boolean | undefined;
  const has16 = (): boolean => (has16Cache ??= source.includes('.code16'));
  const labels = new LabelScheme(source, options.labelTag ?? '');
  const sites: Site[] = [];
  const skipped: Skipped[] = [];
  const diagnostics: Diagnostic[] = [];
  const bodies: Body[] = [];
  const macros = new Map<string, MacroInfo>();
  const parameterized: ParameterizedStatement[] = [];
  // Insertions per line (by the offset where the line starts): [offset in the line, text], applied
  // from the end once the whole input is read.
  const lineEdits = new Map<number, Edit[]>();
  let off = false;
  /** An annotated kind for the next sensitive instruction, with the line that announced it. */
  let pendingKind: { id: number; line: number } | null = null;
  let intel = false;
  let ended = false;
  let inBlockComment = false;

  // Line numbers are counted only when needed (sites, diagnostics), up to the line asked for:
  // lines are visited in order, so the count only moves forward.
  let countedTo = 0;
  let countedLines = 0;
  const lineOf = (at: number): number => {
    for (;;) {
      const nl = source.indexOf('\n', countedTo);
      if (nl < 0 || nl >= at) return countedLines;
      countedLines++;
      countedTo = nl + 1;
    }
  };

  // Lines are walked by offset; only the ones that may matter become strings. Outside Intel syntax,
  // C block comments and macro or repeat bodies, the next line that may matter is found by one
  // regular expression over the input (rebuilt when a macro is defined); otherwise lines are looked
  // at one by one.
  let scan: RegExp | null = null;
  let scanMacros = -1;
  let lastFrom = 0;
  let nextSemicolon = -1;
  let nextHash = -1;
  let nextSlash = -1;
  for (let pos = 0; pos <= source.length && !ended;) {
    let from = pos;
    if (pos > 0 && !lineByLine && !inBlockComment && !intel && bodies.length === 0) {
      if (scanMacros !== macros.size) {
        scan = candidatePattern(DIRECTIVES, macros.keys());
        scanMacros = macros.size;
      }
      scan!.lastIndex = pos - 1; // the newline before this line
      const hit = scan!.exec(source);
      if (hit === null) break;
      from = source.charCodeAt(hit.index) === 10 ? hit.index + 1 : Math.max(pos, source.lastIndexOf('\n', hit.index - 1) + 1);
    }
    let end = source.indexOf('\n', from);
    if (end < 0) end = source.length;
    pos = end + 1;
    lastFrom = from;
    // Fast path: most lines are one plain statement (no `;`, no comment) whose first word says it
    // cannot matter. The next `;`, `#` and `/` are found with indexOf, once per occurrence.
    if (nextSemicolon < from) nextSemicolon = indexOrEnd(source, ';', from);
    if (nextHash < from) nextHash = indexOrEnd(source, '#', from);
    if (nextSlash < from) nextSlash = indexOrEnd(source, '/', from);
    const plain = nextSemicolon >= end && nextHash >= end && nextSlash >= end;
    if (!inBlockComment && plain && !mayMatter(source, from, end, macros, intel)) continue;
    const line = source.slice(from, end);
    const lexed = lexLine(line, inBlockComment);
    inBlockComment = lexed.inBlockComment;
    for (const comment of lexed.comments) {
      const m = OFF_MARKER.exec(comment);
      if (m) off = m[1] === 'off';
    }
    let edits: Edit[] | null = null;
    // A bare prefix statement (`rep;` before `outsb`) whose code starts at this offset.
    let pendingPrefixAt = -1;
    for (const st of lexed.statements) {
      const parsed = parseStatement(st);
      if (parsed === null) { pendingPrefixAt = -1; continue; }
      if (parsed.directive !== null) {
        pendingPrefixAt = -1;
        switch (parsed.directive) {
          case '.macro': {
            const info = bodies.length === 0 ? parseMacroHeader(parsed.rest) : null;
            if (info) macros.set(info.name, info);
            bodies.push({ kind: 'macro', mode, macro: info ?? undefined });
            break;
          }
          case '.rept': case '.irp': case '.irpc': bodies.push({ kind: 'repeat', mode }); break;
          case '.endm': case '.endr': bodies.pop(); break;
          case '.code16': case '.code16gcc': mode = 16; break;
          case '.code32': mode = 32; break;
          case '.code64': mode = 64; break;
          case '.intel_syntax': intel = true; break;
          case '.att_syntax': intel = false; break;
          case '.end': if (bodies.length === 0) ended = true; break;
          case '.include': {
            if (!options.include || off) break;
            const m = /^\s*"((?:[^"\\]|\\.)*)"/.exec(parsed.rest);
            if (!m) break;
            const replacement = options.include(m[1]!, lineOf(from) + 1);
            if (replacement === null) break;
            const q = line.indexOf('"', parsed.at);
            edits ??= [];
            edits.push([q, `"${replacement.replace(/["\\]/g, '\\$&')}"`, m[0].trim().length]);
            break;
          }
          case '.set': case '.equ': {
            const v = offMarkerValue(parsed.rest);
            if (v !== null) off = v;
            const k = kindMarkerValue(parsed.rest);
            if (k !== null) {
              if (annotatedInstructionKindById(k)) pendingKind = { id: k, line: lineOf(from) + 1 };
              else diagnostics.push({ file, line: lineOf(from) + 1, column: parsed.at + 1, severity: 'error', rule: 'annotation', message: `.Lprevirt_kind ${k} is not an annotated-instruction kind of the catalogue` });
            }
            break;
          }
        }
        continue;
      }
      const macroBody = bodies.length === 1 ? bodies[0]!.macro : undefined;
      if (macroBody && !intel && parsed.rest.includes('\\') && !sensitiveAsWritten(parsed.rest)) {
        // Whether it is sensitive depends on the macro's arguments: decided per invocation, at the end.
        parameterized.push({ macro: macroBody, line: lineOf(from), lineFrom: from, start: parsed.at, codeEnd: st.codeEnd, code: parsed.rest, mode, excluded: off });
        pendingPrefixAt = -1;
        continue;
      }
      const split = splitAttStatement(parsed.rest);
      if (split === null) { pendingPrefixAt = -1; continue; }
      const invoked = bodies.length === 0 ? macros.get(split.mnemonic) : undefined;
      if (invoked && split.prefixes.length === 0) {
        if (!split.rest.includes('\\')) invoked.invocations.push(parseInvocation(invoked, split.rest));
        continue;
      }
      if (split.rest.length === 0 && split.prefixes.length === 0 && ATT_PREFIXES.has(split.mnemonic.toLowerCase())) {
        // `rep ;` / `lock ;`: the prefix belongs to the next statement's instruction.
        if (pendingPrefixAt < 0) pendingPrefixAt = parsed.at;
        continue;
      }
      const prefixAt = pendingPrefixAt;
      pendingPrefixAt = -1;
      if (!mayBeSensitiveAtt(split.mnemonic)) continue;
      if (/^\s*=/.test(split.rest)) continue; // `name = expr`
      let cls: SensitiveClass | null;
      const startAt = prefixAt >= 0 ? prefixAt : parsed.at;
      const repeated = bodies.length > 0;
      // Left alone on purpose: the bytes stay, a record in .afterburn_excluded says so.
      const exclude = (c: SensitiveClass) => {
        skipped.push({ line: lineOf(from) + 1, column: startAt + 1, kind: c.id, className: c.name, reason: 'excluded' });
        const names = repeated ? labels.numeric() : labels.named();
        const s = names.ref(names.start);
        edits ??= [];
        edits.push([startAt, `${names.start}:`]);
        edits.push([st.codeEnd, `;${names.insn}:;${excludedRecord(elfClass, s, `(${names.ref(names.insn)}-${s})`, c.id)}`]);
      };
      if (intel) {
        cls = classifyAtt(split.mnemonic, intelOperandsAsAtt(splitAttOperands(split.rest)));
        if (cls !== null && off) exclude(cls);
        else if (cls !== null) {
          diagnostics.push({
            file, line: lineOf(from) + 1, column: parsed.at + 1, severity: 'error', rule: 'intel-syntax',
            message: `'${st.code.slice(parsed.at, st.codeEnd).trim()}' is a sensitive instruction (${cls.name}) in Intel syntax, ` +
              `which the afterburner does not rewrite; write it in AT&T syntax or wrap it in previrt:off/previrt:on`,
          });
        }
        continue;
      }
      cls = classifyCached(split.mnemonic, split.rest);
      if (cls === null) continue;
      // The instruction an annotation announced: its kind instead of the class's, when it fits.
      let kind = cls.id;
      if (pendingKind !== null) {
        const annotated = annotatedInstructionKindById(pendingKind.id)!;
        if (annotated.instructionClass === cls.name) kind = annotated.id;
        else {
          diagnostics.push({
            file, line: lineOf(from) + 1, column: parsed.at + 1, severity: 'error', rule: 'annotation',
            message: `the ${annotated.name} annotation on line ${pendingKind.line} is for a ${annotated.instructionClass} instruction, but the next sensitive instruction is '${st.code.slice(parsed.at, st.codeEnd).trim()}' (${cls.name})`,
          });
        }
        pendingKind = null;
      }
      if (off) {
        exclude(cls);
        continue;
      }
      // keepLayout classes (int3) must not move the bytes after them: no site.
      if (cls.keepLayout) {
        skipped.push({ line: lineOf(from) + 1, column: startAt + 1, kind: cls.id, className: cls.name, reason: 'keep-layout' });
        continue;
      }
      if (kind === cls.id && !attNeedsSite(cls, split.mnemonic, splitAttOperands(split.rest))) {
        skipped.push({ line: lineOf(from) + 1, column: startAt + 1, kind: cls.id, className: cls.name, reason: 'kept-everywhere' });
        continue;
      }
      const size = kindSiteSize(kind)!;
      const names = repeated ? labels.numeric() : labels.named();
      const s = names.ref(names.start);
      const i = names.ref(names.insn);
      const e = names.ref(names.end);
      const len = `(${i}-${s})`;
      const bodyMode = bodies.find((b) => b.kind === 'macro')?.mode;
      // A macro may be expanded under another .code directive than where it was written: when the
      // input mixes 16-bit code with macros, pad macro sites with one-byte NOPs, right in any mode.
      const style: PadStyle = bodyMode !== undefined
        ? (bodyMode === 16 ? 'nops16' : has16() ? 'fill90' : bodyMode === 32 ? 'nops32' : 'nops')
        : (mode === 16 ? 'nops16' : mode === 32 ? 'nops32' : 'nops');
      edits ??= [];
      edits.push([startAt, `${names.start}:`]);
      edits.push([st.codeEnd,
        `;${names.insn}:${padding(style, len, size)};${names.end}:;${record(elfClass, s, len, `(${e}-${s})`, kind)}`]);
      sites.push({
        line: lineOf(from) + 1, column: startAt + 1, kind, className: kind === cls.id ? cls.name : annotatedInstructionKindById(kind)!.name,
        text: line.slice(startAt, st.codeEnd).trim(), mode: bodyMode ?? mode, repeated,
      });
    }
    if (edits !== null) lineEdits.set(from, edits);
    if (lexed.unterminatedString) {
      diagnostics.push({ file, line: lineOf(from) + 1, column: line.indexOf('"') + 1, severity: 'warning', rule: 'syntax', message: 'missing closing quote' });
    }
  }
  for (const ps of parameterized) {
    const made = parameterizedSite(ps, elfClass, labels, has16, sites, skipped);
    if (made === null) continue;
    const list = lineEdits.get(ps.lineFrom) ?? [];
    list.push(...made);
    list.sort((a, b) => a[0] - b[0]);
    lineEdits.set(ps.lineFrom, list);
  }
  let text = source;
  if (lineEdits.size > 0) {
    // Concatenation (V8 keeps a rope and flattens it once, when the text is written).
    text = '';
    let copied = 0;
    for (const from of [...lineEdits.keys()].sort((a, b) => a - b)) {
      const edits = lineEdits.get(from)!;
      // Edits are in offset order: copy the line's pieces between them from the input.
      text += source.slice(copied, from);
      let done = from;
      for (const [at, insert, cut = 0] of edits) {
        text += source.slice(done, from + at) + insert;
        done = from + at + cut;
      }
      copied = done;
    }
    text += source.slice(copied);
  }
  if (inBlockComment) {
    diagnostics.push({ file, line: lineOf(lastFrom) + 1, column: 1, severity: 'warning', rule: 'syntax', message: 'unterminated /* comment at end of input' });
  }
  return { text, sites, skipped, diagnostics };
}

interface ParsedStatement {
  /** Offset (in the line) of the code after the statement's labels. */
  at: number;
  /** Lower-case directive name, or null for an instruction (or macro call). */
  directive: string | null;
  /** The code after the labels (and after the directive name, for a directive). */
  rest: string;
}

/** Skips blanks and labels; null for an empty statement. */
function parseStatement(st: Statement): ParsedStatement | null {
  const code = st.code;
  let p = skipBlanks(code, 0);
  for (;;) {
    LABEL.lastIndex = p;
    const m = LABEL.exec(code);
    if (!m) break;
    p = skipBlanks(code, p + m[0].length);
  }
  if (p >= code.length) return null;
  const at = st.start + p;
  const c = code.charCodeAt(p);
  if (c === 46 /* . */) {
    DIRECTIVE.lastIndex = p;
    const d = DIRECTIVE.exec(code);
    if (d) return { at, directive: d[0].toLowerCase(), rest: code.slice(p + d[0].length) };
    return null;
  }
  WORD.lastIndex = p;
  // A word, or a macro parameter standing for one (`\\op`).
  if (!WORD.test(code) && c !== 92) return null;
  return { at, directive: null, rest: code.slice(p, st.codeEnd - st.start) };
}

function skipBlanks(s: string, p: number): number {
  while (p < s.length) {
    const c = s.charCodeAt(p);
    if (c !== 32 && c !== 9 && c !== 13 && c !== 12 && c !== 11) break;
    p++;
  }
  return p;
}
