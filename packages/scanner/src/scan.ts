// The C scanner: finds sensitive inline asm, hidden instructions, sensitive builtins and unannotated
// page-table and MMIO accesses in one C file, and computes the source edits that annotate them.
//
// Speed: walking every node of a tree-sitter tree from JavaScript costs more than the parse itself, so
// the scanner never does. One regular expression finds the few tokens that can matter (asm, volatile,
// the entry types, accessor and builtin names, data directives, markers); each is looked up in the tree
// (`descendantForIndex`) and only its surroundings are examined. Declarations of entry and volatile
// pointers become symbols whose uses are found the same way, by name within their scope.
//
// What tree-sitter sees is the source before preprocessing. Macro bodies are parsed separately (with
// `#param` stringification and `##` pasting neutralised) and scanned like code; macro uses are not
// expanded, except that asm templates built with `#param` are expanded with the arguments of the
// macro's uses in the same file. See the README for what the scanner cannot see.
import { MEMORY_OPERATION_KINDS, SENSITIVE_BUILTINS, sensitiveBuiltin, type MemoryOperationKind } from '@previrt/isa';
import {
  collapsePercent, concatMapped, DATA_DIRECTIVE_RE, evalConstExpr, mapped, scanAsmText, unescapeCString, type AsmHidden, type AsmItem, type MappedText,
} from './asm.js';
import type { AccessHelperSpec, CpuMode, EntryLevel, LintConfig, MmioAccessorSpec } from './config.js';
import { includeEdit } from './fix.js';
import type { CParser, SyntaxNode } from './parser.js';
import { ruleInfo, type Severity } from './rules.js';
import { globToRegexSource, hasTopLevelComma, LineIndex, nameMatcher, splitTopLevelCommas } from './text.js';

export interface TextEdit {
  /** Offsets (UTF-16) in the file's text; `text` replaces [start, end). */
  start: number;
  end: number;
  text: string;
  /** The same range as 1-based lines and columns (set once the file's lines are known). */
  range?: { startLine: number; startColumn: number; endLine: number; endColumn: number };
}

export interface Fix {
  description: string;
  edits: TextEdit[];
}

export interface Finding {
  rule: string;
  severity: Severity;
  message: string;
  start: number;
  end: number;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  /** Catalogue name: the instruction class or the memory-operation kind. */
  kind: string;
  fix?: Fix;
  /** Why the finding does not count: inside a PV_NO_AFTERBURN region, or a `previrt:ignore` comment. */
  suppressed?: 'region' | 'comment';
  /** An MMIO accessor call: dropped when the scanned tree defines that accessor with an annotation. */
  accessor?: string;
  /** A whole-entry access of this type: its fix is dropped when the type is a struct (the macros take integers). */
  entryType?: string;
}

export interface FileScan {
  file: string;
  /** Size of the file in bytes. */
  bytes: number;
  findings: Finding[];
  /** Functions and macros defined here (accessor or setter names) whose body uses an annotation macro. */
  annotatedDefinitions: string[];
  /** Entry types this file defines as struct or union typedefs. */
  structEntryTypes: string[];
  /** Whether the file includes previrt/annotate.h already. */
  includesAnnotateHeader: boolean;
  /** The edit that adds `#include <previrt/annotate.h>`, when a fix needs it and the file lacks it. */
  includeEdit?: TextEdit;
  /** Time spent reading, parsing and scanning the file, in milliseconds (set by scanPath). */
  ms?: number;
  /** Function-like macros defined here whose asm template is built from their parameters. */
  templateMacros?: { name: string; define: string; line: number; localUses: boolean }[];
}

// ---------------------------------------------------------------------------------------------------
// Compiled configuration.

export interface CompiledConfig {
  readonly config: LintConfig;
  readonly entryLevel: ReadonlyMap<string, EntryLevel>;
  readonly isPteSetter: (name: string) => boolean;
  readonly isPdeSetter: (name: string) => boolean;
  readonly helpers: ReadonlyMap<string, AccessHelperSpec>;
  mmioAccessor(name: string): MmioAccessorSpec | undefined;
  readonly annotationMacro: RegExp;
  readonly isMemoryFunction: (name: string) => boolean;
  readonly trigger: RegExp;
  severity(rule: string, natural: Severity): Severity | 'off';
}

const KIND_BY_NAME = new Map(MEMORY_OPERATION_KINDS.map((k) => [k.name, k]));
function memKind(name: string): MemoryOperationKind {
  return KIND_BY_NAME.get(name)!;
}

export function compileConfig(config: LintConfig): CompiledConfig {
  const entryLevel = new Map<string, EntryLevel>();
  for (const t of config.pageTable.pteTypes) entryLevel.set(t, 'pte');
  for (const t of config.pageTable.pdeTypes) entryLevel.set(t, 'pde');
  const helpers = new Map(config.pageTable.helpers.map((h) => [h.name, h]));
  const exactMmio = new Map<string, MmioAccessorSpec>();
  const globMmio: [RegExp, MmioAccessorSpec][] = [];
  for (const a of config.mmio.accessors) {
    if (/[*?]/.test(a.name)) globMmio.push([new RegExp(`^${globToRegexSource(a.name)}$`), a]);
    else if (!exactMmio.has(a.name)) exactMmio.set(a.name, a);
  }
  const macros = MEMORY_OPERATION_KINDS.map((k) => k.macro);
  const annotationMacro = new RegExp(`\\b(?:${macros.join('|')})(?:8|16)?\\b`);
  const words = [
    'asm', '__asm__', '__asm', 'volatile', '__volatile__', '__volatile',
    ...entryLevel.keys(), ...SENSITIVE_BUILTINS.map((b) => b.name),
    ...config.mmio.accessors.map((a) => globToRegexSource(a.name)),
    ...config.pageTable.pteSetters.map(globToRegexSource), ...config.pageTable.pdeSetters.map(globToRegexSource),
  ];
  const trigger = new RegExp(
    `\\b(?:${[...new Set(words)].join('|')})\\b|${DATA_DIRECTIVE_RE.source}`, 'g',
  );
  return {
    config,
    entryLevel,
    isPteSetter: nameMatcher(config.pageTable.pteSetters),
    isPdeSetter: nameMatcher(config.pageTable.pdeSetters),
    helpers,
    mmioAccessor: (name) => exactMmio.get(name) ?? globMmio.find(([re]) => re.test(name))?.[1],
    annotationMacro,
    isMemoryFunction: nameMatcher(config.mmio.memoryFunctions),
    trigger,
    severity: (rule, natural) => config.rules[rule] ?? natural,
  };
}

// ---------------------------------------------------------------------------------------------------
// Types of expressions, as far as the scanner tracks them.

interface ValType {
  /** Pointer depth; arrays count as pointers. */
  depth: number;
  /** The object at depth 0 is a page-table entry of this level (or a part of one). */
  entry?: EntryLevel;
  entryType?: string;
  /** The object at depth 0 is volatile: a device register. */
  volatile?: boolean;
  /** Base type text, for the access width. */
  base: string;
  /** A member of an entry or register rather than the whole object. */
  part?: boolean;
}

interface Sym {
  name: string;
  type: ValType;
  /** 'macro' is an object-like macro used as an identifier; 'fn' and 'macro-fn' are used as calls. */
  kind: 'var' | 'field' | 'fn' | 'macro' | 'macro-fn';
  /** Uses are looked for in [from, to). */
  from: number;
  to: number;
  /** A volatile pointer known to point at ordinary memory (kept only to answer addressKind). */
  memory?: boolean;
  /** Start of the node that is the symbol's scope (0 for the file). */
  scopeStart: number;
}

const WIDTH_BY_TYPE: Record<string, number> = {
  char: 8, 'signed char': 8, 'unsigned char': 8, u8: 8, s8: 8, uint8_t: 8, int8_t: 8, __u8: 8, __s8: 8,
  short: 16, 'short int': 16, 'unsigned short': 16, 'unsigned short int': 16, 'signed short': 16, u16: 16, s16: 16,
  uint16_t: 16, int16_t: 16, __u16: 16, __s16: 16, __le16: 16, __be16: 16,
  int: 32, 'signed int': 32, unsigned: 32, 'unsigned int': 32, signed: 32, u32: 32, s32: 32, uint32_t: 32, int32_t: 32,
  __u32: 32, __s32: 32, __le32: 32, __be32: 32,
  'long long': 64, 'unsigned long long': 64, 'long long int': 64, 'unsigned long long int': 64, u64: 64, s64: 64,
  uint64_t: 64, int64_t: 64, __u64: 64, __s64: 64, __le64: 64, __be64: 64,
};

function widthOf(base: string, mode: CpuMode): number | undefined {
  const b = base.replace(/\b(const|volatile|__iomem|__volatile__)\b/g, '').replace(/\s+/g, ' ').trim();
  if (WIDTH_BY_TYPE[b] !== undefined) return WIDTH_BY_TYPE[b];
  if (/^(unsigned |signed )?long( int)?$/.test(b)) return mode === 64 ? 64 : 32;
  return undefined;
}

function same(a: SyntaxNode | null | undefined, b: SyntaxNode | null | undefined): boolean {
  return !!a && !!b && a.startIndex === b.startIndex && a.endIndex === b.endIndex && a.type === b.type;
}

function operatorOf(n: SyntaxNode): string | null {
  const op = n.childForFieldName('operator');
  return op ? op.type : null;
}

const SCOPE_TYPES = new Set(['compound_statement', 'for_statement', 'translation_unit']);
const NO_ACCESS_CONTEXTS = new Set(['sizeof_expression', 'alignof_expression', 'offsetof_expression', 'typeof_specifier']);
const TYPEOF_CALLS = new Set(['__typeof__', '__typeof', 'typeof', 'sizeof', '__alignof__', 'offsetof', '__builtin_offsetof']);

// ---------------------------------------------------------------------------------------------------
// Findings before positions are attached (offsets relative to the scanned text).

interface RawFinding {
  rule: string;
  severity?: Severity;
  message: string;
  start: number;
  end: number;
  kind: string;
  fix?: Fix;
  accessor?: string;
  entryType?: string;
}

/** What a macro-body scan knows about its macro. */
interface MacroContext {
  name: string;
  params: string[];
  /** Offsets (in the snippet) of string literals that replace `#param`, with the parameter. */
  stringified: Map<number, string>;
  /** Argument lists of the macro's uses in the enclosing file (looked for when first needed). */
  uses: () => { args: string[]; line: number }[];
  setterLevel?: EntryLevel;
}

function shorten(s: string, max = 48): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/**
 * The finding for a sensitive instruction hidden in data directives (`.byte 0xfa`), in C inline asm
 * (`via`: the macro expansion it came through) or in an assembler source.
 */
function hiddenInstructionFinding(item: AsmHidden, via = ''): RawFinding {
  const bytes = item.bytes.map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(',');
  const what = `\`${shorten(item.statement)}\`${via} encodes \`${item.decoded}\`${item.offset > 0 ? ` at byte ${item.offset}` : ''} (${item.cls.name}, bytes ${bytes})`;
  return {
    rule: 'hidden-instruction',
    severity: item.cls.needsSite ? 'error' : 'note',
    message: item.cls.needsSite
      ? `${what}: the afterburner cannot pad an instruction hidden in data; write it as a mnemonic`
      : `${what}; it traps under every hypervisor, so a site would only be an optimisation`,
    start: item.start, end: Math.max(item.end, item.start + 1), kind: item.cls.name,
  };
}

/** `&lv` for an lvalue's text, written the way a person would: `*p` → `p`, `x[i]` → `&x[i]`. */
function pointerText(lv: SyntaxNode, text: string): string {
  let n = lv;
  while (n.type === 'parenthesized_expression' && n.namedChildCount === 1) n = n.namedChild(0)!;
  if (n.type === 'pointer_expression' && operatorOf(n) === '*') {
    const arg = n.childForFieldName('argument')!;
    const t = text.slice(arg.startIndex, arg.endIndex);
    return hasTopLevelComma(t) ? `(${t})` : t;
  }
  const t = text.slice(n.startIndex, n.endIndex);
  return `&${/^[\w.>\-[\]]+$/.test(t) || n.type === 'field_expression' || n.type === 'subscript_expression' ? t : `(${t})`}`;
}

function argText(t: string): string {
  const s = t.trim();
  return hasTopLevelComma(s) ? `(${s})` : s;
}

/**
 * The text of each argument of an argument list, with the comments that belong to it
 * (`x | 0x80 /* GO *\/`), so that a fix that reorders arguments keeps them.
 */
function argumentTexts(list: SyntaxNode, text: string): string[] {
  const out: string[] = [];
  let start = -1;
  let end = -1;
  for (let i = 0; i < list.childCount; i++) {
    const c = list.child(i)!;
    if (c.type === '(') continue;
    if (c.type === ',' || c.type === ')') {
      if (start >= 0) out.push(text.slice(start, end));
      start = -1;
      continue;
    }
    if (start < 0) start = c.startIndex;
    end = c.endIndex;
  }
  return out;
}

/**
 * The uses `name(args)` of a function-like macro in a text, outside `skip` (its definition): the
 * argument texts, the offset of the name and its line. Parentheses inside strings do not count.
 */
export function findMacroUses(text: string, name: string, skip: [number, number] = [0, 0]): { args: string[]; at: number; line: number }[] {
  const uses: { args: string[]; at: number; line: number }[] = [];
  const re = new RegExp(`\\b${name}\\s*\\(`, 'g');
  let m: RegExpExecArray | null;
  let lines: LineIndex | undefined;
  while ((m = re.exec(text)) !== null) {
    if (m.index >= skip[0] && m.index < skip[1]) continue;
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    let quote: string | null = null;
    for (; i < text.length && depth > 0; i++) {
      const c = text[i];
      if (quote) {
        if (c === '\\') i++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    }
    if (depth !== 0) continue;
    lines ??= new LineIndex(text);
    uses.push({ args: splitTopLevelCommas(text.slice(start, i - 1)).map((a) => a.trim()), at: m.index, line: lines.position(m.index).line });
  }
  return uses;
}

/** Named children without comments (a comment between arguments is a named child too). */
function namedChildren(n: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let i = 0; i < n.namedChildCount; i++) {
    const c = n.namedChild(i)!;
    if (c.type !== 'comment') out.push(c);
  }
  return out;
}

/** ERROR and MISSING nodes in a (small) tree: how badly a macro body parsed. */
function errorCount(n: SyntaxNode): number {
  if (!n.hasError) return 0;
  let count = n.type === 'ERROR' ? 1 : 0;
  for (let i = 0; i < n.childCount; i++) count += errorCount(n.child(i)!);
  return count;
}

function hasSideEffects(n: SyntaxNode): boolean {
  if (n.type === 'call_expression' || n.type === 'update_expression' || n.type === 'assignment_expression') return true;
  for (let i = 0; i < n.namedChildCount; i++) {
    if (hasSideEffects(n.namedChild(i)!)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------

class CScan {
  readonly findings: RawFinding[] = [];
  readonly annotated = new Set<string>();
  readonly structEntryTypes = new Set<string>();
  /** Function-like macros whose asm template is built from their parameters (expanded where they are used). */
  readonly templateMacros = new Map<string, { define: string; line: number; localUses: boolean }>();
  /** Set in a macro-body scan: the template depends on parameters. */
  usesTemplateParams = false;
  private readonly root: SyntaxNode;
  private readonly symbols = new Map<string, Sym[]>();
  private readonly pendingSymbols: Sym[] = [];
  /** Set by a macro-body scan when the body is an entry or device pointer or lvalue. */
  macroValue: ValType | undefined;
  private readonly asmDone = new Set<number>();
  private readonly stringsDone = new Set<number>();
  private readonly macrosDone = new Set<number>();
  private readonly definitionsDone = new Set<number>();
  private readonly accessKeys = new Set<string>();
  private readonly setterDefs: { name: string; level: EntryLevel; nameNode: SyntaxNode; body: SyntaxNode | null; macro: boolean }[] = [];

  constructor(
    readonly text: string,
    private readonly parser: CParser,
    private readonly cc: CompiledConfig,
    private readonly file: FileContext,
    private readonly macro: MacroContext | undefined,
    root: SyntaxNode,
  ) {
    this.root = root;
  }

  private t(n: SyntaxNode): string {
    return this.text.slice(n.startIndex, n.endIndex);
  }

  private nodeAt(start: number, end: number): SyntaxNode {
    return this.root.descendantForIndex(start, end);
  }

  private add(f: RawFinding): void {
    this.findings.push(f);
  }

  run(): void {
    const re = new RegExp(this.cc.trigger.source, 'g');
    const symbolNodes: SyntaxNode[] = [];
    let m: RegExpExecArray | null;
    while ((m = re.exec(this.text)) !== null) {
      const word = m[0];
      const at = m.index;
      if (word.startsWith('.')) {
        this.onDataDirective(at, word.length);
        continue;
      }
      const node = this.nodeAt(at, at + word.length);
      if (node.type === 'preproc_arg') {
        this.inMacroBody(node);
        continue;
      }
      if (node.startIndex !== at || node.endIndex !== at + word.length) continue; // inside a comment or a longer token
      if (this.inMacroBody(node)) continue;
      if (word === 'asm' || word === '__asm__' || word === '__asm') {
        const p = node.parent;
        if (p && p.type === 'gnu_asm_expression') this.onAsm(p);
        continue;
      }
      if (word === 'volatile' || word === '__volatile__' || word === '__volatile') {
        if (this.cc.config.mmio.volatile) symbolNodes.push(node);
        continue;
      }
      if (this.cc.entryLevel.has(word)) {
        symbolNodes.push(node);
        continue;
      }
      this.onName(node, word);
    }
    for (const n of symbolNodes) this.onTypeToken(n);
    this.findUses();
    this.checkSetters();
  }

  // -------------------------------------------------------------------------------------------------
  // Macro bodies.

  /** True when the node lies in a #define body: the body is scanned separately (once). */
  private inMacroBody(node: SyntaxNode): boolean {
    let n: SyntaxNode | null = node;
    for (let depth = 0; n && depth < 4; depth++, n = n.parent) {
      if (n.type === 'preproc_arg') {
        const def = n.parent;
        if (def && (def.type === 'preproc_def' || def.type === 'preproc_function_def')) this.onMacro(def, n);
        return true;
      }
    }
    return false;
  }

  private onMacro(def: SyntaxNode, arg: SyntaxNode): void {
    if (this.macrosDone.has(def.startIndex) || this.macro) return;
    this.macrosDone.add(def.startIndex);
    const nameNode = def.childForFieldName('name');
    if (!nameNode) return;
    const name = this.t(nameNode);
    const params: string[] = [];
    const plist = def.childForFieldName('parameters');
    if (plist) {
      for (let i = 0; i < plist.namedChildCount; i++) {
        const p = plist.namedChild(i)!;
        if (p.type === 'identifier') params.push(this.t(p));
      }
    }
    const body = this.t(arg);
    if (this.cc.annotationMacro.test(body)) this.annotated.add(name);
    // Neutralise `#param` (stringify) and `##` (paste) without moving any character.
    const stringifiedAt = new Map<number, string>();
    let prepared = body.replace(/##/g, '__');
    prepared = prepared.replace(/(^|[^#\w])#\s*([A-Za-z_]\w*)/g, (all, lead: string, p: string, off: number) => {
      if (!params.includes(p)) return all;
      const len = all.length - lead.length;
      stringifiedAt.set(off + lead.length, p);
      return lead + '""' + ' '.repeat(len - 2);
    });
    const level = def.type === 'preproc_function_def'
      ? (this.cc.isPteSetter(name) ? 'pte' : this.cc.isPdeSetter(name) ? 'pde' : undefined) : undefined;
    let uses: { args: string[]; line: number }[] | undefined;
    const ctx: MacroContext = {
      name, params, stringified: new Map(), uses: () => (uses ??= this.macroUses(name, def)),
      ...(level ? { setterLevel: level } : {}),
    };
    // Parse as statements inside a function (most macro bodies are expressions or statements); fall
    // back to top level (macros that define functions) when that parses better.
    const prefix = 'void __previrt_macro_body(void) {';
    let snippet = `${prefix}${prepared}\n;}`;
    let shift = prefix.length;
    let tree = this.parser.parse(snippet);
    if (tree.rootNode.hasError) {
      const top = this.parser.parse(prepared);
      if (!top.rootNode.hasError || errorCount(top.rootNode) < errorCount(tree.rootNode)) {
        tree.delete?.();
        snippet = prepared;
        shift = 0;
        tree = top;
      } else {
        top.delete?.();
      }
    }
    for (const [off, p] of stringifiedAt) ctx.stringified.set(off + shift, p);
    const sub = new CScan(snippet, this.parser, this.cc, this.file, ctx, tree.rootNode);
    if (level) {
      // Untyped parameters of a setter macro that are dereferenced are entries by convention.
      for (const p of params) {
        sub.addSymbol({ name: p, kind: 'var', from: shift, to: snippet.length, scopeStart: 0, type: { depth: 1, entry: level, base: p } });
      }
      if (!this.cc.annotationMacro.test(body)) {
        sub.setterDefs.push({ name, level, nameNode, body: null, macro: true });
      }
    }
    try {
      sub.run();
    } finally {
      tree.delete?.();
    }
    const delta = arg.startIndex - shift;
    for (const f of sub.findings) {
      const moved: RawFinding = { ...f, start: f.start + delta, end: f.end + delta };
      if (f.fix) moved.fix = { ...f.fix, edits: f.fix.edits.map((e) => ({ ...e, start: e.start + delta, end: e.end + delta })) };
      this.add(moved);
    }
    for (const n of sub.annotated) this.annotated.add(n);
    if (sub.usesTemplateParams && def.type === 'preproc_function_def') {
      this.templateMacros.set(name, { define: this.t(def), line: new LineIndex(this.text.slice(0, def.startIndex + 1)).lineCount, localUses: ctx.uses().length > 0 });
    }
    if (sub.macroValue && !this.cc.annotationMacro.test(body)) {
      // Each use of the macro denotes that pointer or lvalue: follow the uses in this file.
      const kind = def.type === 'preproc_function_def' ? 'macro-fn' : 'macro';
      this.addSymbol({ name, type: sub.macroValue, kind, from: def.endIndex, to: this.text.length, scopeStart: 0 });
    }
  }

  /** Argument lists of the uses of a function-like macro in this file (outside its definition). */
  private macroUses(name: string, def: SyntaxNode): { args: string[]; line: number }[] {
    return findMacroUses(this.text, name, [def.startIndex, def.endIndex]).slice(0, 16);
  }

  // -------------------------------------------------------------------------------------------------
  // Inline assembly.

  private onAsm(asm: SyntaxNode): void {
    if (this.asmDone.has(asm.startIndex)) return;
    this.asmDone.add(asm.startIndex);
    const code = asm.childForFieldName('assembly_code');
    if (!code) return;
    // Operands may also come through a variadic macro's __VA_ARGS__ (`PROBE_INSN(insn, ...)`).
    const extended = ['output_operands', 'input_operands', 'clobbers', 'goto_labels'].some((f) => asm.childForFieldName(f) !== null)
      || (this.macro !== undefined && this.t(this.statementOf(asm)).includes('__VA_ARGS__'));
    const pieces = code.type === 'concatenated_string'
      ? namedChildren(code)
      : [code];
    for (const p of pieces) if (p.type === 'string_literal') this.stringsDone.add(p.startIndex);
    const mode = this.cc.config.mode;
    const usesParams = this.macro !== undefined && pieces.some((p) => this.macro!.stringified.has(p.startIndex)
      || (p.type === 'identifier' && this.macro!.params.includes(this.t(p))));
    if (usesParams) this.usesTemplateParams = true;
    const expansions: (Map<string, string> | null)[] = [null];
    if (usesParams && this.macro!.uses().length > 0) {
      expansions.length = 0;
      for (const use of this.macro!.uses()) {
        const args = new Map<string, string>();
        this.macro!.params.forEach((p, i) => args.set(p, use.args[i] ?? ''));
        expansions.push(args);
      }
    }
    const seen = new Set<string>();
    // Data from an object-like macro (`asm(ASM_UD2)`) is reported at the macro's definition instead.
    const macroPieces = new Set(pieces.filter((p) => p.type === 'identifier').map((p) => p.startIndex));
    for (const args of expansions) {
      let t = this.templateText(pieces, args);
      if (extended) t = collapsePercent(t);
      for (const item of scanAsmText(t, { mode, instructions: true })) {
        if (item.kind === 'hidden' && macroPieces.has(item.start)) continue;
        const key = `${item.kind}:${item.start}:${item.kind === 'marker' ? item.off : item.cls.name}:${item.kind === 'hidden' ? `${item.offset}:${item.bytes.join(',')}` : ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        this.asmItem(item, args);
      }
    }
  }

  private statementOf(n: SyntaxNode): SyntaxNode {
    let a = n;
    while (a.parent && !a.type.endsWith('statement') && a.parent.type !== 'translation_unit') a = a.parent;
    return a;
  }

  private templateText(pieces: SyntaxNode[], args: Map<string, string> | null): MappedText {
    const parts: MappedText[] = [];
    for (const p of pieces) {
      if (p.type === 'string_literal') {
        const param = this.macro?.stringified.get(p.startIndex);
        if (param !== undefined) {
          const value = args?.get(param) ?? '';
          const m = mapped(value, p.startIndex);
          m.map = m.map.map(() => p.startIndex);
          parts.push(m);
        } else {
          parts.push(unescapeCString(this.t(p), p.startIndex));
        }
      } else if (p.type === 'identifier' && this.macro?.params.includes(this.t(p))) {
        // A parameter spliced into the template: the argument's string literals (`PROBE_INSN("rdtscp", ...)`).
        const arg = args?.get(this.t(p)) ?? '';
        const lits = arg.match(/"(?:\\.|[^"\\])*"/g) ?? [];
        const value = lits.map((l) => unescapeCString(l, 0).text).join('');
        parts.push({ text: value === '' ? '\n' : value, map: new Array<number>((value === '' ? 1 : value.length) + 1).fill(p.startIndex) });
      } else if (p.type === 'identifier') {
        const def = this.file.stringMacros().get(this.t(p));
        if (def) {
          parts.push({ text: def.text, map: def.text.split('').map(() => p.startIndex).concat(p.endIndex) });
        } else {
          parts.push({ text: '\n', map: [p.startIndex, p.endIndex] });
        }
      } else {
        parts.push({ text: '\n', map: [p.startIndex, p.endIndex] });
      }
    }
    return concatMapped(parts);
  }

  private asmItem(item: AsmItem, args: Map<string, string> | null): void {
    const via = args && this.macro ? ` (as ${this.macro.name}(${[...args.values()].join(', ')}))` : '';
    if (item.kind === 'instruction') {
      // A popf that restores IF alone can say so: below ring 0 it then needs no real popf.
      const hint = item.cls.name === 'popf'
        ? '; if it restores only the interrupt flag (local_irq_restore), PV_IRQ_RESTORE(flags) of previrt/annotate.h lets xen and l4 skip the real popf'
        : '';
      this.add({
        rule: 'asm-sensitive',
        message: `inline asm \`${shorten(item.statement)}\`${via} is sensitive (${item.cls.name}: ${item.cls.description}); handled by the afterburner${hint}`,
        start: item.start, end: Math.max(item.end, item.start + 1), kind: item.cls.name,
      });
    } else if (item.kind === 'hidden') {
      this.add(hiddenInstructionFinding(item, via));
    }
  }

  /** A data directive in a string that is not an asm template (a macro body, a string constant). */
  private onDataDirective(at: number, len: number): void {
    const node = this.nodeAt(at, at + len);
    let lit: SyntaxNode | null = node;
    while (lit && lit.type !== 'string_literal') {
      if (lit.type === 'preproc_arg') {
        this.inMacroBody(lit);
        return;
      }
      lit = lit.type === 'string_content' || lit.type === 'escape_sequence' ? lit.parent : null;
    }
    if (!lit || this.stringsDone.has(lit.startIndex)) return;
    let group = lit;
    if (lit.parent?.type === 'concatenated_string') group = lit.parent;
    for (let a: SyntaxNode | null = group.parent; a; a = a.parent) {
      if (a.type === 'gnu_asm_expression') {
        this.onAsm(a);
        return;
      }
      if (a.type.endsWith('statement') || a.type === 'declaration' || a.type === 'function_definition') break;
    }
    const pieces = group.type === 'concatenated_string'
      ? namedChildren(group)
      : [group];
    for (const p of pieces) if (p.type === 'string_literal') this.stringsDone.add(p.startIndex);
    const t = this.templateText(pieces, null);
    for (const item of scanAsmText(t, { mode: this.cc.config.mode, instructions: false, dataOnly: true })) this.asmItem(item, null);
  }

  // -------------------------------------------------------------------------------------------------
  // Builtins, MMIO accessors, setter and accessor definitions.

  private onName(node: SyntaxNode, word: string): void {
    const parent = node.parent;
    if (!parent) return;
    if (parent.type === 'call_expression' && same(parent.childForFieldName('function'), node)) {
      const b = sensitiveBuiltin(word);
      if (b) {
        this.add({
          rule: 'builtin-sensitive',
          message: `\`${word}\` expands to \`${b.cls.name}\` (${b.cls.description}); gcc emits it as assembler text, so the afterburner pads it`,
          start: parent.startIndex, end: parent.endIndex, kind: b.cls.name,
        });
        return;
      }
      const acc = this.cc.mmioAccessor(word);
      if (acc) this.onMmioCall(parent, acc, word);
      return;
    }
    // A definition: `T name(...) { ... }` or `#define name(...)`.
    const def = this.definitionOf(node);
    if (def) this.onDefinition(def.node, def.body, node, word);
  }

  private definitionOf(nameNode: SyntaxNode): { node: SyntaxNode; body: SyntaxNode | null } | null {
    const p = nameNode.parent;
    if (!p) return null;
    if (p.type === 'preproc_function_def' || p.type === 'preproc_def') return { node: p, body: p.childForFieldName('value') };
    if (p.type !== 'function_declarator' || !same(p.childForFieldName('declarator'), nameNode)) return null;
    let d: SyntaxNode | null = p.parent;
    while (d && (d.type === 'pointer_declarator' || d.type === 'parenthesized_declarator' || d.type === 'attributed_declarator')) d = d.parent;
    if (d && d.type === 'function_definition') return { node: d, body: d.childForFieldName('body') };
    return null;
  }

  private onDefinition(def: SyntaxNode, body: SyntaxNode | null, nameNode: SyntaxNode, name: string): void {
    if (this.definitionsDone.has(def.startIndex)) return;
    this.definitionsDone.add(def.startIndex);
    const bodyText = body ? this.t(body) : '';
    const annotated = this.cc.annotationMacro.test(bodyText);
    if (annotated) this.annotated.add(name);
    if (def.type === 'preproc_function_def') {
      // Setter macros are checked in their body scan, which needs no other trigger to run.
      if (body && (this.cc.isPteSetter(name) || this.cc.isPdeSetter(name))) this.onMacro(def, body);
      return;
    }
    if (def.type !== 'function_definition') return;
    const level = this.cc.isPteSetter(name) ? 'pte' : this.cc.isPdeSetter(name) ? 'pde' : undefined;
    if (level && !annotated) this.setterDefs.push({ name, level, nameNode, body, macro: false });
  }

  private onMmioCall(call: SyntaxNode, spec: MmioAccessorSpec, name: string): void {
    const argsNode = call.childForFieldName('arguments');
    const args = argsNode ? namedChildren(argsNode) : [];
    const argTexts = argsNode ? argumentTexts(argsNode, this.text) : [];
    const kind = memKind(spec.access === 'read' ? 'mmio-read' : 'mmio-write');
    const addr = args[spec.address];
    const value = spec.value !== undefined ? args[spec.value] : undefined;
    const suffix = spec.width === 32 ? '' : spec.width === 16 ? '16' : spec.width === 8 ? '8' : null;
    let fix: Fix | undefined;
    if (spec.fixable !== false && suffix !== null && addr) {
      const macro = `${kind.macro}${suffix}`;
      const addrText = argText(argTexts[spec.address] ?? this.t(addr));
      if (spec.access === 'read') {
        fix = { description: `replace ${name}() with ${macro}()`, edits: [{ start: call.startIndex, end: call.endIndex, text: `${macro}(${addrText})` }] };
      } else if (value && call.parent?.type === 'expression_statement') {
        const valueText = argText(argTexts[spec.value!] ?? this.t(value));
        fix = {
          description: `replace ${name}() with ${macro}()`,
          edits: [{ start: call.startIndex, end: call.endIndex, text: `${macro}(${addrText}, ${valueText})` }],
        };
      }
    }
    const why = spec.fixable === false ? ' (not fixed automatically: the accessor may do more than one MMIO access)'
      : suffix === null ? ` (not fixed automatically: ${spec.width === 64 ? 'there is no 64-bit PV_MMIO macro' : 'unknown access width'})`
        : !fix && spec.access === 'write' ? ' (not fixed automatically: the call is not a statement of its own)' : '';
    this.add({
      rule: kind.name,
      message: `\`${name}\` ${spec.access === 'read' ? 'reads' : 'writes'} a device register without an annotation${suffix !== null ? `; use ${kind.macro}${suffix}` : ''}${why}`,
      start: call.startIndex, end: call.endIndex, kind: kind.name, accessor: name, ...(fix ? { fix } : {}),
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Where a volatile address points: a device, or ordinary memory (a test page, the BIOS data area,
  // the kernel's direct map). Unknown addresses count as devices.

  private constValue(e: SyntaxNode, depth = 0): number | null {
    if (depth > 16) return null;
    switch (e.type) {
      case 'number_literal': {
        const t = this.t(e).replace(/[uUlL]+$/, '');
        const v = /^0[xX]/.test(t) ? parseInt(t.slice(2), 16) : /^0[0-7]+$/.test(t) ? parseInt(t, 8) : Number(t);
        return Number.isFinite(v) ? v : null;
      }
      case 'identifier':
        return this.file.intMacro(this.t(e));
      case 'parenthesized_expression':
        return e.namedChildCount === 1 ? this.constValue(e.namedChild(0)!, depth + 1) : null;
      case 'cast_expression': {
        const v = e.childForFieldName('value');
        return v ? this.constValue(v, depth + 1) : null;
      }
      case 'binary_expression': {
        const l = e.childForFieldName('left');
        const r = e.childForFieldName('right');
        const a = l ? this.constValue(l, depth + 1) : null;
        const b = r ? this.constValue(r, depth + 1) : null;
        if (a === null || b === null) return null;
        switch (operatorOf(e)) {
          case '+': return a + b;
          case '-': return a - b;
          case '*': return a * b;
          case '|': return (a | b) >>> 0;
          case '&': return (a & b) >>> 0;
          case '<<': return a * 2 ** b;
          case '>>': return Math.floor(a / 2 ** b);
          default: return null;
        }
      }
      default:
        return null;
    }
  }

  private inDeviceRange(v: number): boolean {
    return this.cc.config.mmio.deviceRanges.some(([a, b]) => v >= a && v < b);
  }

  /** 'memory' when the address certainly is ordinary memory; 'device' otherwise. */
  private addressKind(e: SyntaxNode, depth = 0): 'memory' | 'device' {
    if (depth > 16) return 'device';
    const c = this.constValue(e);
    if (c !== null) return this.inDeviceRange(c) ? 'device' : 'memory';
    switch (e.type) {
      case 'parenthesized_expression':
        return e.namedChildCount === 1 ? this.addressKind(e.namedChild(0)!, depth + 1) : 'device';
      case 'cast_expression': {
        const v = e.childForFieldName('value');
        return v ? this.addressKind(v, depth + 1) : 'device';
      }
      case 'pointer_expression':
        return operatorOf(e) === '&' ? 'memory' : 'device';
      case 'binary_expression': {
        // The pointer is the operand that is not a constant offset.
        const l = e.childForFieldName('left');
        const r = e.childForFieldName('right');
        if (!l || !r) return 'device';
        return this.constValue(l) !== null ? this.addressKind(r, depth + 1) : this.addressKind(l, depth + 1);
      }
      case 'call_expression': {
        const f = e.childForFieldName('function');
        return f && f.type === 'identifier' && this.cc.isMemoryFunction(this.t(f)) ? 'memory' : 'device';
      }
      case 'identifier': {
        const syms = this.symbols.get(this.t(e));
        if (!syms || syms.length === 0) return 'device';
        return syms.every((sym) => sym.memory) ? 'memory' : 'device';
      }
      default:
        return 'device';
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Declarations of entry and volatile pointers.

  /** A type token (an entry type name, or `volatile`) in the tree: a declaration or a cast. */
  private onTypeToken(tok: SyntaxNode): void {
    let n: SyntaxNode | null = tok.parent;
    if (!n) return;
    const isVolatile = tok.type === 'volatile' || tok.type === '__volatile__' || tok.type === '__volatile';
    if (isVolatile) {
      if (n.type !== 'type_qualifier') return;
      n = n.parent;
      if (!n) return;
    }
    if (n.type === 'type_definition') {
      this.onTypedef(n, tok);
      return;
    }
    if (n.type === 'type_descriptor') {
      const cast = n.parent;
      if (cast && cast.type === 'cast_expression' && same(cast.childForFieldName('type'), n)) {
        const type = this.descriptorType(n);
        if (type && type.depth >= 1 && (type.entry || type.volatile)) {
          const value = cast.childForFieldName('value');
          if (type.volatile && !type.entry && value && this.addressKind(value) === 'memory') return; // READ_ONCE-style, RAM
          this.climb(cast, type);
        }
      }
      return;
    }
    if (!['declaration', 'parameter_declaration', 'field_declaration', 'function_definition'].includes(n.type)) return;
    const typeNode = n.childForFieldName('type');
    if (!typeNode) return;
    if (!isVolatile && !same(typeNode, tok)) return;
    const base = this.baseType(n);
    if (!base) return;
    const declarators = n.type === 'function_definition' ? [n.childForFieldName('declarator')] : n.childrenForFieldName('declarator');
    for (const d of declarators) {
      if (!d) continue;
      this.declare(n, d, base);
    }
  }

  private isAddressOf(n: SyntaxNode): boolean {
    while (n.type === 'parenthesized_expression' && n.namedChildCount === 1) n = n.namedChild(0)!;
    return n.type === 'pointer_expression' && operatorOf(n) === '&';
  }

  /** The base type of a declaration: its type text, entry level, and whether it is volatile. */
  private baseType(decl: SyntaxNode): ValType | null {
    const typeNode = decl.childForFieldName('type');
    if (!typeNode) return null;
    const name = this.t(typeNode);
    let volatile = false;
    for (let i = 0; i < decl.childCount; i++) {
      const c = decl.child(i)!;
      if (c.type === 'type_qualifier' && /volatile/.test(this.t(c))) volatile = true;
    }
    const entry = this.cc.entryLevel.get(name);
    if (!entry && !volatile) return null;
    return { depth: 0, base: name, ...(entry ? { entry, entryType: name } : {}), ...(volatile && !entry ? { volatile: true } : {}) };
  }

  private descriptorType(desc: SyntaxNode): ValType | null {
    const base = this.baseType(desc);
    if (!base) return null;
    let depth = 0;
    let d = desc.childForFieldName('declarator');
    while (d) {
      if (d.type === 'abstract_pointer_declarator' || d.type === 'abstract_array_declarator') depth++;
      else if (d.type !== 'abstract_parenthesized_declarator') break;
      d = d.childForFieldName('declarator') ?? (d.namedChildCount > 0 ? d.namedChild(d.namedChildCount - 1) : null);
      if (d && d.type === 'type_qualifier') break;
    }
    return { ...base, depth };
  }

  private onTypedef(def: SyntaxNode, tok: SyntaxNode): void {
    // `typedef struct { ... } pte_t;`: the macros take integers, so whole-entry fixes would not compile.
    const typeNode = def.childForFieldName('type');
    if (!typeNode || tok.type !== 'type_identifier') return;
    const declared = def.childrenForFieldName('declarator').some((d) => same(d, tok));
    if (declared && (typeNode.type === 'struct_specifier' || typeNode.type === 'union_specifier')) {
      this.structEntryTypes.add(this.t(tok));
    }
  }

  private declare(decl: SyntaxNode, declarator: SyntaxNode, base: ValType): void {
    let depth = 0;
    let d: SyntaxNode | null = declarator;
    let init: SyntaxNode | null = null;
    let fn = false;
    let array = false;
    while (d) {
      switch (d.type) {
        case 'init_declarator':
          init = d.childForFieldName('value');
          d = d.childForFieldName('declarator');
          continue;
        case 'pointer_declarator':
          depth++;
          d = d.childForFieldName('declarator');
          continue;
        case 'array_declarator':
          depth++;
          array = true;
          d = d.childForFieldName('declarator');
          continue;
        case 'parenthesized_declarator':
        case 'attributed_declarator':
          d = d.namedChild(0);
          continue;
        case 'function_declarator':
          fn = true;
          d = d.childForFieldName('declarator');
          continue;
        default:
          break;
      }
      break;
    }
    if (!d || depth === 0) return; // values are copies, not page-table or device memory
    const name = this.t(d);
    const type: ValType = { ...base, depth };
    // A volatile array is storage, and a volatile pointer set to ordinary memory is not a device.
    const memory = type.volatile && (array || (init !== null && this.addressKind(init) === 'memory'));
    if (fn) {
      if (decl.type === 'function_definition' || decl.type === 'declaration') {
        this.addSymbol({ name, type, kind: 'fn', from: 0, to: this.text.length, scopeStart: 0 });
      }
      return;
    }
    if (d.type === 'field_identifier') {
      this.addSymbol({ name, type, kind: 'field', from: 0, to: this.text.length, scopeStart: 0 });
      return;
    }
    if (d.type !== 'identifier') return;
    if (decl.type === 'parameter_declaration') {
      if (type.volatile && !this.cc.config.mmio.volatileParameters) return;
      const body = this.functionBodyOfParam(decl);
      if (body) this.addSymbol({ name, type, kind: 'var', from: body.startIndex, to: body.endIndex, scopeStart: body.startIndex });
      return;
    }
    let scope: SyntaxNode | null = decl.parent;
    while (scope && !SCOPE_TYPES.has(scope.type)) scope = scope.parent;
    const to = scope && scope.type !== 'translation_unit' ? scope.endIndex : this.text.length;
    this.addSymbol({ name, type, kind: 'var', from: d.endIndex, to, scopeStart: scope ? scope.startIndex : 0, ...(memory ? { memory: true } : {}) });
  }

  private functionBodyOfParam(param: SyntaxNode): SyntaxNode | null {
    const list = param.parent;
    const fdecl = list?.parent;
    if (!fdecl || fdecl.type !== 'function_declarator') return null;
    let d: SyntaxNode | null = fdecl.parent;
    while (d && (d.type === 'pointer_declarator' || d.type === 'parenthesized_declarator' || d.type === 'attributed_declarator')) d = d.parent;
    return d && d.type === 'function_definition' ? d.childForFieldName('body') : null;
  }

  addSymbol(s: Sym): void {
    const list = this.symbols.get(s.name);
    if (list) {
      if (list.some((o) => o.from === s.from && o.to === s.to && o.kind === s.kind)) return;
      list.push(s);
    } else {
      this.symbols.set(s.name, [s]);
    }
    this.pendingSymbols.push(s);
  }

  private findUses(): void {
    // In waves: one regular expression for all the names of a wave, so that many symbols cost one pass
    // over the text, not one each. Following a use can declare an alias (`u32 *tmp = (u32 *)pmdp;`),
    // which goes into the next wave.
    let done = 0;
    while (done < this.pendingSymbols.length) {
      const wave = this.pendingSymbols.slice(done);
      done = this.pendingSymbols.length;
      const inWave = new Set(wave);
      const names = [...new Set(wave.map((w) => w.name))];
      const re = new RegExp(`\\b(?:${names.join('|')})\\b`, 'g');
      re.lastIndex = Math.min(...wave.map((w) => w.from));
      const last = Math.max(...wave.map((w) => w.to));
      let m: RegExpExecArray | null;
      while ((m = re.exec(this.text)) !== null && m.index < last) {
        const at = m.index;
        const name = m[0];
        let best: Sym | undefined;
        for (const s of this.symbols.get(name)!) {
          if (at >= s.from && at < s.to && (!best || s.to - s.from < best.to - best.from)) best = s;
        }
        if (!best || !inWave.has(best) || best.memory) continue;
        this.use(best, at);
      }
    }
  }

  private use(sym: Sym, at: number): void {
    const name = sym.name;
    const node = this.nodeAt(at, at + name.length);
    if (node.startIndex !== at || node.endIndex !== at + name.length) return;
    const parent = node.parent;
    if (!parent) return;
    if ((sym.kind === 'var' || sym.kind === 'macro') && node.type === 'identifier') {
      if (sym.kind === 'var' && this.shadowed(node, name, sym)) return;
      this.climb(node, sym.type);
    } else if (sym.kind === 'field' && node.type === 'field_identifier' && parent.type === 'field_expression') {
      if (same(parent.childForFieldName('field'), node)) this.climb(parent, sym.type);
    } else if ((sym.kind === 'fn' || sym.kind === 'macro-fn') && node.type === 'identifier' && parent.type === 'call_expression'
      && same(parent.childForFieldName('function'), node)) {
      this.climb(parent, sym.type);
    }
  }

  /**
   * Whether a declaration between the use and the symbol's own scope hides the symbol: a local or a
   * parameter of another type with the same name.
   */
  private shadowed(use: SyntaxNode, name: string, sym: Sym): boolean {
    const declares = (decl: SyntaxNode): boolean => decl.childrenForFieldName('declarator').some((d) => {
      let n: SyntaxNode | null = d;
      while (n && n.type !== 'identifier') n = n.childForFieldName('declarator');
      return n !== null && n.endIndex !== sym.from && this.t(n) === name;
    });
    for (let a = use.parent; a; a = a.parent) {
      if (a.startIndex < sym.scopeStart || (a.startIndex === sym.scopeStart && a.type !== 'function_definition')) return false;
      if (a.type === 'compound_statement' || a.type === 'translation_unit') {
        for (let i = 0; i < a.namedChildCount; i++) {
          const c = a.namedChild(i)!;
          if (c.startIndex >= use.startIndex) break;
          if (c.type === 'declaration' && declares(c)) return true;
        }
      } else if (a.type === 'for_statement') {
        const init = a.childForFieldName('initializer');
        if (init && init.type === 'declaration' && init.endIndex <= use.startIndex && declares(init)) return true;
      } else if (a.type === 'function_definition') {
        const params = this.paramsOf(a);
        if (params && params.some((p) => p.type === 'parameter_declaration' && declares(p))) return true;
      }
    }
    return false;
  }

  private paramsOf(fn: SyntaxNode): SyntaxNode[] | null {
    let d = fn.childForFieldName('declarator');
    while (d && d.type !== 'function_declarator') d = d.childForFieldName('declarator');
    const list = d?.childForFieldName('parameters');
    return list ? namedChildren(list) : null;
  }

  /** `T *alias = <entry or register pointer>;` or `alias = <pointer>;`: the alias points there too. */
  private declareAlias(p: SyntaxNode, cur: SyntaxNode, t: ValType): void {
    if (p.type === 'init_declarator') {
      if (!same(p.childForFieldName('value'), cur)) return;
      let d = p.childForFieldName('declarator');
      let depth = 0;
      while (d && d.type === 'pointer_declarator') {
        depth++;
        d = d.childForFieldName('declarator');
      }
      if (!d || d.type !== 'identifier' || depth !== t.depth) return;
      let scope: SyntaxNode | null = p.parent;
      while (scope && !SCOPE_TYPES.has(scope.type)) scope = scope.parent;
      const to = scope && scope.type !== 'translation_unit' ? scope.endIndex : this.text.length;
      this.addSymbol({ name: this.t(d), type: { ...t }, kind: 'var', from: d.endIndex, to, scopeStart: scope ? scope.startIndex : 0 });
      return;
    }
    // An assignment to a plain variable: from here to the end of the enclosing block.
    const left = p.childForFieldName('left');
    if (!left || left.type !== 'identifier' || !same(p.childForFieldName('right'), cur) || operatorOf(p) !== '=') return;
    let scope: SyntaxNode | null = p.parent;
    while (scope && !SCOPE_TYPES.has(scope.type)) scope = scope.parent;
    const to = scope && scope.type !== 'translation_unit' ? scope.endIndex : this.text.length;
    this.addSymbol({ name: this.t(left), type: { ...t }, kind: 'var', from: p.endIndex, to, scopeStart: scope ? scope.startIndex : 0 });
  }

  // -------------------------------------------------------------------------------------------------
  // From an expression of known type up to the access it takes part in.

  private climb(start: SyntaxNode, type: ValType): void {
    let cur = start;
    let t = type;
    for (let guard = 0; guard < 64; guard++) {
      if (t.depth === 0) {
        this.access(cur, t);
        return;
      }
      const p = cur.parent;
      if (!p) return;
      if (this.isMacroBodyTop(cur)) {
        this.macroValue = t; // the macro expands to an entry or device pointer
        return;
      }
      switch (p.type) {
        case 'parenthesized_expression':
          cur = p;
          continue;
        case 'pointer_expression': {
          const op = operatorOf(p);
          if (op === '*') t = { ...t, depth: t.depth - 1 };
          else if (op === '&') t = { ...t, depth: t.depth + 1 };
          else return;
          cur = p;
          continue;
        }
        case 'subscript_expression':
          if (!same(p.childForFieldName('argument'), cur)) return;
          t = { ...t, depth: t.depth - 1 };
          cur = p;
          continue;
        case 'field_expression':
          if (!same(p.childForFieldName('argument'), cur) || operatorOf(p) !== '->' || t.depth !== 1) return;
          t = { ...t, depth: 0, part: true, base: '' };
          cur = p;
          continue;
        case 'binary_expression': {
          const op = operatorOf(p);
          if (op !== '+' && op !== '-') return;
          if (op === '-' && !same(p.childForFieldName('left'), cur)) return;
          cur = p;
          continue;
        }
        case 'update_expression':
          cur = p;
          continue;
        case 'conditional_expression':
          if (same(p.childForFieldName('condition'), cur)) return;
          cur = p;
          continue;
        case 'comma_expression':
          if (!same(p.childForFieldName('right'), cur)) return;
          cur = p;
          continue;
        case 'cast_expression': {
          const desc = p.childForFieldName('type');
          if (!desc) return;
          const target = this.descriptorType(desc);
          const depth = target ? target.depth : this.pointerDepthOfDescriptor(desc);
          if (depth < 1) return;
          // A cast of an entry pointer to another pointer type still points at the entry.
          t = target && (target.entry || target.volatile) ? { ...target } : { ...t, depth, base: this.descriptorBase(desc) };
          cur = p;
          continue;
        }
        case 'argument_list':
          if (t.depth === 1) this.helperAccess(p, cur, t, 'pointer');
          return;
        case 'init_declarator':
        case 'assignment_expression':
          this.declareAlias(p, cur, t);
          return;
        default:
          return;
      }
    }
  }

  private pointerDepthOfDescriptor(desc: SyntaxNode): number {
    let depth = 0;
    let d = desc.childForFieldName('declarator');
    while (d && (d.type === 'abstract_pointer_declarator' || d.type === 'abstract_array_declarator')) {
      depth++;
      d = d.childForFieldName('declarator');
    }
    return depth;
  }

  private descriptorBase(desc: SyntaxNode): string {
    const tn = desc.childForFieldName('type');
    return tn ? this.t(tn) : '';
  }

  /** An lvalue of an entry or a device register (depth 0): what does the code do with it? */
  private access(node: SyntaxNode, type: ValType): void {
    let lv = node;
    let t = type;
    for (;;) {
      const p = lv.parent;
      if (!p) return;
      if (p.type === 'parenthesized_expression') {
        lv = p;
        continue;
      }
      if (p.type === 'field_expression' && same(p.childForFieldName('argument'), lv) && operatorOf(p) === '.') {
        lv = p;
        t = { ...t, part: true, base: '' };
        continue;
      }
      if (p.type === 'subscript_expression' && same(p.childForFieldName('argument'), lv)) {
        lv = p; // an array member of an entry
        t = { ...t, part: true, base: '' };
        continue;
      }
      break;
    }
    if (this.inNoAccessContext(lv)) return;
    if (this.isMacroBodyTop(lv)) {
      this.macroValue = t; // the macro expands to the lvalue: each use is the access
      return;
    }
    const p = lv.parent!;
    const key = `${lv.startIndex}:${lv.endIndex}`;
    if (this.accessKeys.has(key)) return;
    this.accessKeys.add(key);
    if (p.type === 'assignment_expression' && same(p.childForFieldName('left'), lv)) {
      const op = operatorOf(p) ?? '=';
      this.report(lv, t, op === '=' ? 'write' : 'rmw', p, op);
      return;
    }
    if (p.type === 'update_expression') {
      this.report(lv, t, 'rmw', p, null);
      return;
    }
    if (p.type === 'pointer_expression' && operatorOf(p) === '&') {
      this.climb(p, { ...t, depth: 1 });
      return;
    }
    if (p.type === 'argument_list') {
      if (this.helperAccess(p, lv, t, 'lvalue')) return;
    }
    // An inline asm operand: the asm instruction does the access. For entries that is still a
    // page-table access; a volatile memory operand of asm is usually a cache or fence operand
    // (clflush), not a device register, so it is not reported.
    if (p.type === 'gnu_asm_output_operand' || p.type === 'gnu_asm_input_operand') {
      if (t.entry) this.report(lv, t, p.type === 'gnu_asm_output_operand' ? 'asm-write' : 'asm-read', p, null);
      return;
    }
    this.report(lv, t, 'read', p, null);
  }

  /** In a macro-body scan: whether `n` is the whole body (so what it denotes depends on each use). */
  private isMacroBodyTop(n: SyntaxNode): boolean {
    if (!this.macro) return false;
    const stmt = n.parent;
    if (!stmt) return false;
    if (stmt.type === 'expression_statement') {
      const block = stmt.parent;
      return !!block && block.type === 'compound_statement' && block.parent?.type === 'function_definition'
        && block.namedChildCount === 1 && this.text.startsWith('void __previrt_macro_body(void) {', block.parent.startIndex);
    }
    return false;
  }

  private inNoAccessContext(n: SyntaxNode): boolean {
    let a: SyntaxNode | null = n.parent;
    for (let depth = 0; a && depth < 8; depth++, a = a.parent) {
      if (NO_ACCESS_CONTEXTS.has(a.type)) return true;
      if (a.type === 'call_expression') {
        const f = a.childForFieldName('function');
        if (f && TYPEOF_CALLS.has(this.t(f))) return true;
      }
      if (a.type.endsWith('statement') || a.type === 'declaration') return false;
    }
    return false;
  }

  /** A helper call (READ_ONCE, WRITE_ONCE, xchg, test_and_clear_bit ...) whose argument is the entry. */
  private helperAccess(argList: SyntaxNode, arg: SyntaxNode, t: ValType, how: 'lvalue' | 'pointer'): boolean {
    const call = argList.parent;
    if (!call || call.type !== 'call_expression') return false;
    const fn = call.childForFieldName('function');
    if (!fn || fn.type !== 'identifier') return false;
    const spec = this.cc.helpers.get(this.t(fn));
    if (!spec) return false;
    let index = -1;
    const args = namedChildren(argList);
    const argTexts = argumentTexts(argList, this.text);
    args.forEach((a, i) => { if (same(a, arg)) index = i; });
    if (index < 0 || (how === 'lvalue' ? spec.lvalue : spec.pointer) !== index) return false;
    const name = this.t(fn);
    const ptr = how === 'lvalue' ? pointerText(arg, this.text) : argText(this.t(arg));
    const access = spec.access;
    const level = t.entry;
    const target = this.describe(arg, t);
    if (level) {
      const kindName = access === 'test-and-clear' ? (level === 'pte' ? 'pte-test-and-clear' : 'pde-set')
        : access === 'read' ? `${level}-read` : `${level}-set`;
      const kind = memKind(kindName);
      let fix: Fix | undefined;
      if (spec.fixable) {
        if (access === 'test-and-clear' && kindName === 'pte-test-and-clear' && spec.bit !== undefined && args[spec.bit]) {
          fix = { description: `replace ${name}() with ${kind.macro}()`, edits: [{ start: call.startIndex, end: call.endIndex, text: `${kind.macro}(${ptr}, ${argText(argTexts[spec.bit] ?? this.t(args[spec.bit]))})` }] };
        } else if (access === 'read') {
          fix = { description: `replace ${name}() with ${kind.macro}()`, edits: [{ start: call.startIndex, end: call.endIndex, text: `${kind.macro}(${ptr})` }] };
        } else if (access === 'write' && spec.value !== undefined && args[spec.value] && call.parent?.type === 'expression_statement') {
          fix = { description: `replace ${name}() with ${kind.macro}()`, edits: [{ start: call.startIndex, end: call.endIndex, text: `${kind.macro}(${ptr}, ${argText(argTexts[spec.value] ?? this.t(args[spec.value]))})` }] };
        }
      }
      const verb = access === 'read' ? 'loads' : access === 'test-and-clear' ? 'tests and clears a bit of' : 'writes';
      this.add({
        rule: kind.name,
        message: `\`${name}\` ${verb} ${target} without an annotation; use ${kind.macro}${fix ? '' : ' (not fixed automatically: the call is not a single plain access)'}`,
        start: call.startIndex, end: call.endIndex, kind: kind.name,
        ...(fix ? { fix } : {}), ...(!t.part && t.entryType && fix ? { entryType: t.entryType } : {}),
      });
      return true;
    }
    if (t.volatile) {
      const kind = memKind(access === 'read' ? 'mmio-read' : 'mmio-write');
      this.add({
        rule: kind.name,
        message: `\`${name}\` ${access === 'read' ? 'reads' : 'writes'} ${target} without an annotation; use ${kind.macro}`,
        start: call.startIndex, end: call.endIndex, kind: kind.name,
      });
      return true;
    }
    return false;
  }

  private describe(lv: SyntaxNode, t: ValType): string {
    const what = t.entry
      ? (t.entry === 'pte' ? 'page-table entry' : 'page-directory entry')
      : 'device register';
    const type = t.entry && t.entryType ? ` (${t.entryType})` : '';
    return `${what} \`${shorten(this.t(lv))}\`${type}`;
  }

  private report(lv: SyntaxNode, t: ValType, how: 'write' | 'rmw' | 'read' | 'asm-write' | 'asm-read', ctx: SyntaxNode, op: string | null): void {
    const isWrite = how === 'write' || how === 'rmw' || how === 'asm-write';
    let kind: MemoryOperationKind;
    let readKind: MemoryOperationKind;
    let suffix = '';
    if (t.entry) {
      kind = memKind(isWrite ? `${t.entry}-set` : `${t.entry}-read`);
      readKind = memKind(`${t.entry}-read`);
    } else if (t.volatile) {
      kind = memKind(isWrite ? 'mmio-write' : 'mmio-read');
      readKind = memKind('mmio-read');
      const width = t.part ? undefined : widthOf(t.base, this.cc.config.mode);
      suffix = width === 32 ? '' : width === 16 ? '16' : width === 8 ? '8' : '?';
    } else {
      return;
    }
    const ptr = pointerText(lv, this.text);
    let fix: Fix | undefined;
    let why = '';
    if (suffix === '?') {
      why = ' (not fixed automatically: unknown access width)';
    } else if (how === 'read') {
      fix = { description: `wrap the load in ${readKind.macro}${suffix}()`, edits: [{ start: lv.startIndex, end: lv.endIndex, text: `${readKind.macro}${suffix}(${ptr})` }] };
    } else if (how === 'rmw' && ctx.type === 'update_expression') {
      why = ' (not fixed automatically: an increment or decrement)';
    } else if (how === 'write' || how === 'rmw') {
      let whole: SyntaxNode = ctx;
      while (whole.parent?.type === 'parenthesized_expression') whole = whole.parent;
      const stmt = whole.parent;
      if (ctx.type !== 'assignment_expression' || stmt?.type !== 'expression_statement') {
        why = ' (not fixed automatically: the store is not a statement of its own)';
      } else {
        const right = ctx.childForFieldName('right')!;
        let value = argText(this.t(right));
        if (how === 'rmw') {
          const binop = op!.slice(0, -1);
          if (hasSideEffects(lv)) {
            why = ' (not fixed automatically: the address has side effects)';
            value = '';
          } else {
            const simple = ['identifier', 'number_literal', 'parenthesized_expression', 'call_expression', 'field_expression', 'subscript_expression'].includes(right.type);
            value = `${readKind.macro}${suffix}(${ptr}) ${binop} ${simple ? this.t(right).trim() : `(${this.t(right).trim()})`}`;
          }
        }
        if (value !== '') {
          fix = { description: `wrap the store in ${kind.macro}${suffix}()`, edits: [{ start: whole.startIndex, end: whole.endIndex, text: `${kind.macro}${suffix}(${ptr}, ${value})` }] };
        }
      }
    } else {
      why = ' (not fixed automatically: the access is an inline asm operand)';
    }
    const verb = how === 'read' || how === 'asm-read' ? 'load of' : how === 'rmw' ? 'read-modify-write of' : 'store to';
    this.add({
      rule: kind.name,
      message: `${verb} ${this.describe(lv, t)} without an annotation; use ${how === 'read' ? readKind.macro : kind.macro}${suffix === '?' ? '' : suffix}${why}`,
      start: lv.startIndex, end: lv.endIndex, kind: kind.name,
      ...(fix ? { fix } : {}), ...(fix && t.entry && !t.part ? { entryType: t.entryType } : {}),
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Setters whose store the scanner could not see.

  /** Names of the pointer parameters of the function whose name is `nameNode`. */
  private pointerParams(nameNode: SyntaxNode): string[] {
    const fdecl = nameNode.parent;
    const list = fdecl?.childForFieldName('parameters');
    const out: string[] = [];
    if (!list) return out;
    for (let i = 0; i < list.namedChildCount; i++) {
      let d = list.namedChild(i)!.childForFieldName('declarator');
      let ptr = false;
      while (d && (d.type === 'pointer_declarator' || d.type === 'array_declarator')) {
        ptr = true;
        d = d.childForFieldName('declarator');
      }
      if (ptr && d && d.type === 'identifier') out.push(this.t(d));
    }
    return out;
  }

  private checkSetters(): void {
    for (const s of this.setterDefs) {
      const from = s.macro ? 0 : s.body ? s.body.startIndex : s.nameNode.startIndex;
      const to = s.macro ? this.text.length : s.body ? s.body.endIndex : s.nameNode.endIndex;
      const found = this.findings.some((f) => f.start >= from && f.end <= to && f.rule !== 'asm-sensitive');
      if (found) continue;
      const bodyText = this.text.slice(from, to);
      // Forwarding to another setter or access helper makes that one the site.
      const calls = [...bodyText.matchAll(/\b([A-Za-z_]\w*)\s*\(/g)].map((m) => m[1]!);
      if (calls.some((c) => c !== s.name && (this.cc.isPteSetter(c) || this.cc.isPdeSetter(c) || this.cc.helpers.has(c)))) continue;
      if (s.macro) continue; // a macro that only computes values is not a store
      if (!s.body || s.body.namedChildCount === 0) continue; // an empty setter (a folded level) stores nothing
      const params = this.pointerParams(s.nameNode);
      if (!params.some((p) => new RegExp(`\\b${p}\\b`).test(bodyText))) continue;
      const kind = memKind(`${s.level}-set`);
      this.add({
        rule: kind.name,
        message: `setter \`${s.name}\` stores a ${s.level === 'pte' ? 'page-table' : 'page-directory'} entry without an annotation, in a way the scanner cannot see; use ${kind.macro}`,
        start: s.nameNode.startIndex, end: s.nameNode.endIndex, kind: kind.name,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Suppression: PV_NO_AFTERBURN regions and `previrt:ignore` comments.

interface Suppressions {
  regions: [number, number][];
  ignores: { line: number; rules: string[] | null }[];
}

function suppressionsOf(text: string, lines: LineIndex, extraMarkers: { start: number; off: boolean }[]): Suppressions {
  const markers: { at: number; off: boolean }[] = extraMarkers.map((m) => ({ at: m.start, off: m.off }));
  if (!text.includes('previrt') && !text.includes('PV_NO_AFTERBURN')) return { regions: [], ignores: [] };
  const re = /\bPV_NO_AFTERBURN_(BEGIN|END)\b|\.set\s+\.Lprevirt_off\s*,\s*(\d+)|#\s*previrt:(off|on)\b/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const lineStart = text.lastIndexOf('\n', m.index) + 1;
    if (/^\s*#\s*define\b/.test(text.slice(lineStart, m.index + 1))) continue;
    const off = m[1] ? m[1] === 'BEGIN' : m[2] !== undefined ? m[2] !== '0' : m[3] === 'off';
    if (!markers.some((k) => Math.abs(k.at - m!.index) < 2)) markers.push({ at: m.index, off });
  }
  markers.sort((a, b) => a.at - b.at);
  const regions: [number, number][] = [];
  let openAt = -1;
  for (const k of markers) {
    if (k.off && openAt < 0) openAt = k.at;
    else if (!k.off && openAt >= 0) {
      regions.push([openAt, k.at]);
      openAt = -1;
    }
  }
  if (openAt >= 0) regions.push([openAt, text.length]);
  const ignores: { line: number; rules: string[] | null }[] = [];
  const ig = /previrt:ignore\b([ \t]+[\w-]+(?:[ \t]*,?[ \t]*[\w-]+)*)?/g;
  while ((m = ig.exec(text)) !== null) {
    const rules = m[1] ? m[1].split(/[\s,]+/).filter((r) => r.length > 0) : null;
    const line = lines.position(m.index).line;
    ignores.push({ line, rules }, { line: line + 1, rules });
  }
  return { regions, ignores };
}

/**
 * The regions of a C or assembler source that the afterburner leaves alone (PV_NO_AFTERBURN_BEGIN/END,
 * `.set .Lprevirt_off, 1/0`, `# previrt:off/on`), as 1-based inclusive line ranges.
 */
export function afterburnerOffRegions(text: string): { startLine: number; endLine: number }[] {
  const lines = new LineIndex(text);
  return suppressionsOf(text, lines, []).regions.map(([a, b]) => ({ startLine: lines.position(a).line, endLine: lines.position(b).line }));
}

// ---------------------------------------------------------------------------------------------------
// Entry points.

/** What a file's own #defines say: string macros (asm text) and integer constants (addresses). */
class FileContext {
  private strings?: Map<string, MappedText>;
  private ints?: Map<string, string>;
  private readonly values = new Map<string, number | null>();

  constructor(private readonly text: string) {}

  stringMacros(): Map<string, MappedText> {
    return (this.strings ??= stringMacros(this.text));
  }

  /** The value of an object-like macro that is an integer constant expression, if the file defines one. */
  intMacro(name: string, depth = 0): number | null {
    if (this.values.has(name)) return this.values.get(name)!;
    if (!this.ints) {
      this.ints = new Map();
      const re = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+([^\n]*?)[ \t]*(?:\/\*.*?\*\/|\/\/.*)?$/gm;
      let m: RegExpExecArray | null;
      while ((m = re.exec(this.text)) !== null) if (!this.ints.has(m[1]!)) this.ints.set(m[1]!, m[2]!);
    }
    const body = this.ints.get(name);
    let value: number | null = null;
    if (body !== undefined && depth < 4) {
      let ok = true;
      const expr = body
        // Casts to integer types and integer suffixes do not change the value of an address.
        .replace(/\(\s*(?:unsigned|signed|const|volatile|long|int|short|char|u8|u16|u32|u64|s32|uint\d+_t|uintptr_t|size_t|phys_addr_t|\s)+\s*\)/g, ' ')
        .replace(/\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b/g, '$1')
        .replace(/\b[A-Za-z_]\w*\b/g, (id) => {
          const v = this.intMacro(id, depth + 1);
          if (v === null) ok = false;
          return v === null ? '0' : String(v);
        });
      value = ok ? evalConstExpr(expr) : null;
    }
    this.values.set(name, value);
    return value;
  }
}

/** Object-like macros whose body is only string literals (`#define ASM_CLAC ".byte 0x0f,0x01,0xca"`). */
function stringMacros(text: string): Map<string, MappedText> {
  const out = new Map<string, MappedText>();
  const re = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+((?:"(?:\\.|[^"\\\n])*"[ \t]*)+)$/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const bodyStart = m.index + m[0].indexOf(m[2]!, m[0].indexOf(m[1]!) + m[1]!.length);
    const parts: MappedText[] = [];
    const lit = /"(?:\\.|[^"\\\n])*"/g;
    let l: RegExpExecArray | null;
    while ((l = lit.exec(m[2]!)) !== null) parts.push(unescapeCString(l[0], bodyStart + l.index));
    out.set(m[1]!, concatMapped(parts));
  }
  return out;
}

const ANNOTATE_INCLUDE_RE = /^[ \t]*#[ \t]*include[ \t]*[<"]previrt\/annotate\.h[>"]/m;

function finish(
  file: string, text: string, bytes: number, raw: RawFinding[], cc: CompiledConfig, markers: { start: number; off: boolean }[],
  extra: Pick<FileScan, 'annotatedDefinitions' | 'structEntryTypes'>,
): FileScan {
  const includesAnnotateHeader = text.includes('previrt/annotate.h') && ANNOTATE_INCLUDE_RE.test(text);
  if (raw.length === 0) return { file, bytes, findings: [], ...extra, includesAnnotateHeader };
  const lines = new LineIndex(text);
  const sup = suppressionsOf(text, lines, markers);
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const f of raw) {
    const natural = f.severity ?? ruleInfo(f.rule).defaultSeverity;
    const severity = cc.severity(f.rule, natural);
    if (severity === 'off') continue;
    const key = `${f.rule}:${f.start}:${f.end}:${f.kind}:${f.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const s = lines.position(f.start);
    const e = lines.position(f.end);
    const finding: Finding = {
      rule: f.rule, severity, message: f.message, start: f.start, end: f.end,
      line: s.line, column: s.column, endLine: e.line, endColumn: e.column, kind: f.kind,
      ...(f.fix ? { fix: f.fix } : {}), ...(f.accessor ? { accessor: f.accessor } : {}), ...(f.entryType ? { entryType: f.entryType } : {}),
    };
    if (sup.regions.some(([a, b]) => f.start >= a && f.start < b)) finding.suppressed = 'region';
    else if (sup.ignores.some((i) => i.line === s.line && (i.rules === null || i.rules.includes(f.rule)))) finding.suppressed = 'comment';
    findings.push(finding);
  }
  findings.sort((a, b) => a.start - b.start || a.end - b.end || a.rule.localeCompare(b.rule));
  const withRange = (e: TextEdit): TextEdit => {
    const s = lines.position(e.start);
    const t = lines.position(e.end);
    return { ...e, range: { startLine: s.line, startColumn: s.column, endLine: t.line, endColumn: t.column } };
  };
  for (const f of findings) if (f.fix) f.fix = { ...f.fix, edits: f.fix.edits.map(withRange) };
  const fixStarts = findings.filter((f) => f.fix && !f.suppressed).flatMap((f) => f.fix!.edits.map((e) => e.start));
  return {
    file, bytes, findings, ...extra, includesAnnotateHeader,
    ...(!includesAnnotateHeader && fixStarts.length > 0 ? { includeEdit: withRange(includeEdit(text, Math.min(...fixStarts))) } : {}),
  };
}

/** Scans one C source or header. */
export function scanCSource(file: string, text: string, parser: CParser, cc: CompiledConfig, bytes = text.length): FileScan {
  const tree = parser.parse(text);
  const scan = new CScan(text, parser, cc, new FileContext(text), undefined, tree.rootNode);
  try {
    scan.run();
  } finally {
    tree.delete?.(); // web-tree-sitter trees live in wasm memory until deleted
  }
  const result = finish(file, text, bytes, scan.findings, cc, [], {
    annotatedDefinitions: [...scan.annotated].sort(),
    structEntryTypes: [...scan.structEntryTypes].sort(),
  });
  if (scan.templateMacros.size > 0) result.templateMacros = [...scan.templateMacros].map(([name, m]) => ({ name, ...m }));
  return result;
}

/** Scans an assembler source (.S/.s): data directives that encode sensitive instructions. */
export function scanAsmSource(file: string, text: string, cc: CompiledConfig, bytes = text.length): FileScan {
  // cpp lines: `#define NAME body` bodies are assembler text too; other directives are not.
  const prepared = text.replace(/^([ \t]*#[ \t]*define[ \t]+[A-Za-z_]\w*(?:\([^)]*\))?)|^[ \t]*#[ \t]*(?:include|if|ifdef|ifndef|else|elif|endif|undef|error|warning|pragma|line)\b[^\n]*/gm,
    (m) => ' '.repeat(m.length)).replace(/\\\n/g, ' \n');
  const items = DATA_DIRECTIVE_RE.test(prepared) || /previrt/.test(prepared)
    ? scanAsmText(mapped(prepared, 0), { mode: cc.config.mode, instructions: false }) : [];
  const raw: RawFinding[] = [];
  const markers: { start: number; off: boolean }[] = [];
  for (const item of items) {
    if (item.kind === 'marker') {
      markers.push(item);
    } else if (item.kind === 'hidden') {
      raw.push(hiddenInstructionFinding(item));
    }
  }
  return finish(file, text, bytes, raw, cc, markers, { annotatedDefinitions: [], structEntryTypes: [] });
}

export function isAsmFile(file: string): boolean {
  return /\.(S|s|sx|asm)$/.test(file);
}

/** Scans a file by its extension. */
export function scanSource(file: string, text: string, parser: CParser, cc: CompiledConfig, bytes = text.length): FileScan {
  return isAsmFile(file) ? scanAsmSource(file, text, cc, bytes) : scanCSource(file, text, parser, cc, bytes);
}
