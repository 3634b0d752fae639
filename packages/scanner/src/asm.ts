// Assembler text as the scanner sees it: inline-asm templates (after C string unescaping and `%%`
// handling) and .S files. Splits the text into statements, classifies instructions through
// @previrt/isa (`splitAttStatement`, `splitAttOperands`, `classifyAtt`) and decodes runs of
// `.byte`/`.word`/`.long` data in code sections with the isa decoder to find hidden instructions.
import {
  classifyAtt, decode, instructionLength, instructionText, splitAttOperands, splitAttStatement, type SensitiveClass,
} from '@previrt/isa';
import type { CpuMode } from './config.js';

/** Text with, for each character, the offset in the source file it came from. */
export interface MappedText {
  text: string;
  /** map[i] is the source offset of text[i]; map[text.length] is the offset just past the end. */
  map: number[];
}

export function mapped(text: string, start: number): MappedText {
  const map = new Array<number>(text.length + 1);
  for (let i = 0; i <= text.length; i++) map[i] = start + i;
  return { text, map };
}

export function concatMapped(parts: readonly MappedText[]): MappedText {
  let text = '';
  const map: number[] = [];
  for (const p of parts) {
    text += p.text;
    for (let i = 0; i < p.text.length; i++) map.push(p.map[i]!);
  }
  const last = parts[parts.length - 1];
  map.push(last ? last.map[last.text.length]! : 0);
  return { text, map };
}

/**
 * The value of a C string literal's source text (`"..."`, with an optional L/u/U/u8 prefix) with the
 * source offset of each character. `start` is the offset of the literal in the file.
 */
export function unescapeCString(literal: string, start: number): MappedText {
  let i = literal.indexOf('"');
  if (i < 0) return { text: '', map: [start + literal.length] };
  const end = literal.lastIndexOf('"');
  let text = '';
  const map: number[] = [];
  i++;
  while (i < end) {
    const c = literal[i]!;
    const at = start + i;
    if (c !== '\\') {
      text += c;
      map.push(at);
      i++;
      continue;
    }
    const n = literal[i + 1];
    if (n === undefined) break;
    if (n === '\n') { i += 2; continue; }
    if (n === '\r' && literal[i + 2] === '\n') { i += 3; continue; }
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'", '?': '?', e: '\x1b' };
    if (simple[n] !== undefined) {
      text += simple[n];
      map.push(at);
      i += 2;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(literal.slice(i + 1))!;
      text += String.fromCharCode(parseInt(m[0], 8));
      map.push(at);
      i += 1 + m[0].length;
    } else if (n === 'x') {
      const m = /^[0-9a-fA-F]+/.exec(literal.slice(i + 2));
      text += String.fromCharCode(m ? parseInt(m[0], 16) & 0xff : 0);
      map.push(at);
      i += 2 + (m ? m[0].length : 0);
    } else {
      text += n;
      map.push(at);
      i += 2;
    }
  }
  map.push(start + end + 1);
  return { text, map };
}

/** Extended asm writes a literal `%` as `%%`; drops the first of each pair. */
export function collapsePercent(t: MappedText): MappedText {
  if (!t.text.includes('%%')) return t;
  let text = '';
  const map: number[] = [];
  for (let i = 0; i < t.text.length; i++) {
    if (t.text[i] === '%' && t.text[i + 1] === '%') {
      text += '%';
      map.push(t.map[i]!);
      i++;
      continue;
    }
    text += t.text[i];
    map.push(t.map[i]!);
  }
  map.push(t.map[t.text.length]!);
  return { text, map };
}

// ---------------------------------------------------------------------------------------------------
// Constant expressions in data directives.

/** Evaluates an assembler constant expression of numbers and operators; null when it names a symbol. */
export function evalConstExpr(src: string): number | null {
  const tokens = src.match(/0[xX][0-9a-fA-F]+|0[bB][01]+|\d+|'(?:\\.|[^'])'|<<|>>|[-+*/%|&^~!()]|\S/g);
  if (!tokens) return null;
  let pos = 0;
  const peek = () => tokens[pos];
  const prec: Record<string, number> = { '|': 1, '^': 2, '&': 3, '<<': 4, '>>': 4, '+': 5, '-': 5, '*': 6, '/': 6, '%': 6 };
  function primary(): number | null {
    const t = tokens![pos++];
    if (t === undefined) return null;
    if (t === '(') {
      const v = expr(0);
      if (tokens![pos++] !== ')') return null;
      return v;
    }
    if (t === '-' || t === '~' || t === '!' || t === '+') {
      const v = primary();
      if (v === null) return null;
      return t === '-' ? -v : t === '~' ? ~v : t === '!' ? (v === 0 ? 1 : 0) : v;
    }
    if (/^0[xX]/.test(t)) return parseInt(t.slice(2), 16);
    if (/^0[bB]/.test(t)) return parseInt(t.slice(2), 2);
    if (/^0\d+$/.test(t)) return parseInt(t, 8);
    if (/^\d+$/.test(t)) return parseInt(t, 10);
    if (/^'/.test(t)) return t.length === 3 ? t.charCodeAt(1) : null;
    return null;
  }
  function expr(minPrec: number): number | null {
    let lhs = primary();
    if (lhs === null) return null;
    for (;;) {
      const op = peek();
      if (op === undefined || prec[op] === undefined || prec[op]! < minPrec) return lhs;
      pos++;
      const rhs = expr(prec[op]! + 1);
      if (rhs === null) return null;
      switch (op) {
        case '|': lhs = lhs | rhs; break;
        case '^': lhs = lhs ^ rhs; break;
        case '&': lhs = lhs & rhs; break;
        case '<<': lhs = lhs << rhs; break;
        case '>>': lhs = lhs >> rhs; break;
        case '+': lhs = lhs + rhs; break;
        case '-': lhs = lhs - rhs; break;
        case '*': lhs = lhs * rhs; break;
        case '/': if (rhs === 0) return null; lhs = Math.trunc(lhs / rhs); break;
        case '%': if (rhs === 0) return null; lhs = lhs % rhs; break;
      }
    }
  }
  const v = expr(0);
  return pos === tokens.length ? v : null;
}

// ---------------------------------------------------------------------------------------------------
// Statements.

export interface AsmInstruction {
  kind: 'instruction';
  /** Source offsets of the statement. */
  start: number;
  end: number;
  statement: string;
  mnemonic: string;
  cls: SensitiveClass;
}

export interface AsmHidden {
  kind: 'hidden';
  start: number;
  end: number;
  /** The directive text that holds the instruction's first byte. */
  statement: string;
  bytes: number[];
  decoded: string;
  cls: SensitiveClass;
  /** Index of the instruction's first byte among the bytes of its directive. */
  offset: number;
}

export interface AsmMarker {
  kind: 'marker';
  start: number;
  /** True for the start of a region the afterburner leaves alone. */
  off: boolean;
}

export type AsmItem = AsmInstruction | AsmHidden | AsmMarker;

export interface AsmScanOptions {
  mode: CpuMode;
  /** Report sensitive instructions written as mnemonics (inline asm); .S files only need hidden ones. */
  instructions: boolean;
  /** Only consider data directives (a string that is not an asm template, e.g. a macro body). */
  dataOnly?: boolean;
}

const DATA_SIZES: Record<string, number> = {
  '.byte': 1, '.word': 2, '.short': 2, '.value': 2, '.hword': 2, '.2byte': 2,
  '.long': 4, '.int': 4, '.4byte': 4, '.quad': 8, '.8byte': 8,
};

/** Cheap pre-check: could this text contain anything scanAsmText reports? */
export const DATA_DIRECTIVE_RE = /\.(?:byte|word|short|value|hword|2byte|long|int|4byte|quad|8byte)\b/;

function isCodeSection(name: string, flags: string | undefined): boolean {
  if (flags !== undefined) return flags.includes('x');
  return name === '.text' || name.startsWith('.text.') || name.endsWith('.text') || name.includes('.text.')
    || name === '.altinstr_replacement' || name === '.fixup' || name === '.init' || name === '.fini';
}

interface Statement {
  text: string;
  /** Index in the mapped text. */
  at: number;
  end: number;
}

/**
 * Splits assembler text into statements: newlines and `;` separate them, `#` starts a comment (the
 * i386 comment character), `/* *\/` comments are removed. Marker comments `# previrt:off/on` become
 * statements `#previrt:off`/`#previrt:on` so that the caller sees them in order.
 */
function splitStatements(text: string): Statement[] {
  const out: Statement[] = [];
  let cur = '';
  let curAt = -1;
  let i = 0;
  const flush = (end: number) => {
    const trimmed = cur.trim();
    if (trimmed.length > 0) {
      const lead = cur.length - cur.trimStart().length;
      out.push({ text: trimmed, at: curAt + lead, end });
    }
    cur = '';
    curAt = -1;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n' || c === ';') {
      flush(i);
      i++;
      continue;
    }
    if (c === '"') {
      // A string operand of a directive: keep it whole.
      let j = i + 1;
      while (j < text.length && text[j] !== '"' && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      if (curAt < 0) curAt = i;
      cur += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const j = text.indexOf('*/', i + 2);
      const stop = j < 0 ? text.length : j + 2;
      if (curAt < 0) curAt = i;
      cur += ' '.repeat(stop - i);
      i = stop;
      continue;
    }
    if (c === '#') {
      let j = text.indexOf('\n', i);
      if (j < 0) j = text.length;
      const comment = text.slice(i, j);
      const marker = /^#\s*previrt:(off|on)\b/.exec(comment);
      flush(i);
      if (marker) out.push({ text: `#previrt:${marker[1]}`, at: i, end: j });
      i = j;
      continue;
    }
    if (curAt < 0) curAt = i;
    cur += c;
    i++;
  }
  flush(text.length);
  return out;
}

/** Strips leading labels (`1:`, `foo:`, `.Lx:`) from a statement. */
function stripLabels(s: Statement): Statement {
  let { text, at } = s;
  for (;;) {
    const m = /^([A-Za-z_.$][\w.$]*|\d+)\s*:(?!:)\s*/.exec(text);
    if (!m) return { text, at, end: s.end };
    text = text.slice(m[0].length);
    at += m[0].length;
  }
}

/** gas multi-dialect alternatives `{att|intel}` keep the AT&T one; `%z0`-style operand sizes are dropped. */
function normaliseMnemonic(m: string): string {
  return m.replace(/\{([^|}]*)\|[^}]*\}/g, '$1').replace(/%[a-zA-Z]?(?:\d+|\[\w+\])/g, '').replace(/[{}]/g, '');
}

/**
 * Scans assembler text (already unescaped, `%%` collapsed for extended asm) and reports sensitive
 * instructions, hidden encodings and afterburner markers, with source offsets through `t.map`.
 */
export function scanAsmText(t: MappedText, opts: AsmScanOptions): AsmItem[] {
  const items: AsmItem[] = [];
  const src = (i: number) => t.map[Math.min(i, t.text.length)]!;
  let mode = opts.mode;
  let section = { name: '.text', flags: undefined as string | undefined };
  let previous = section;
  const stack: (typeof section)[] = [];
  // The current run of data bytes in a code section: values (null when symbolic) and the statement
  // that holds each byte.
  let run: RunByte[] = [];

  const endRun = () => {
    if (run.length > 0) decodeRun(run, mode, items, src);
    run = [];
  };
  const setSection = (next: typeof section) => {
    endRun();
    previous = section;
    section = next;
  };

  for (const raw of splitStatements(t.text)) {
    if (raw.text === '#previrt:off' || raw.text === '#previrt:on') {
      endRun();
      items.push({ kind: 'marker', start: src(raw.at), off: raw.text === '#previrt:off' });
      continue;
    }
    const s = stripLabels(raw);
    if (s.text.length === 0) continue;
    if (s.text.startsWith('.')) {
      const m = /^(\.[\w.]+)\s*(.*)$/s.exec(s.text)!;
      const dir = m[1]!.toLowerCase();
      const args = m[2]!.trim();
      const size = DATA_SIZES[dir];
      if (size !== undefined) {
        if (!isCodeSection(section.name, section.flags)) continue;
        let index = 0;
        for (const a of splitAttOperands(args)) {
          if (a === '') continue;
          const v = evalConstExpr(a);
          for (let k = 0; k < size; k++) {
            run.push({ value: v === null ? null : Number((BigInt.asUintN(64, BigInt(v)) >> BigInt(8 * k)) & 0xffn), stmt: s, index: index++ });
          }
        }
        continue;
      }
      if (dir === '.set' || dir === '.equ') {
        const mm = /^\.Lprevirt_off\s*,\s*(\d+)\s*$/.exec(args);
        if (mm) {
          endRun();
          items.push({ kind: 'marker', start: src(s.at), off: mm[1] !== '0' });
        }
        continue;
      }
      if (dir === '.code16' || dir === '.code16gcc') { endRun(); mode = 16; continue; }
      if (dir === '.code32') { endRun(); mode = 32; continue; }
      if (dir === '.code64') { endRun(); mode = 64; continue; }
      if (dir === '.pushsection' || dir === '.section') {
        const parts = splitAttOperands(args);
        const name = (parts[0] ?? '').replace(/^"|"$/g, '');
        const flagsArg = parts[1]?.trim();
        const flags = flagsArg && /^"/.test(flagsArg) ? flagsArg.replace(/"/g, '') : undefined;
        if (dir === '.pushsection') stack.push(section);
        setSection({ name, flags });
        continue;
      }
      if (dir === '.popsection') {
        endRun();
        section = stack.pop() ?? { name: '.text', flags: undefined };
        continue;
      }
      if (dir === '.previous') {
        const cur = section;
        setSection(previous);
        previous = cur;
        continue;
      }
      if (dir === '.text') { setSection({ name: '.text', flags: undefined }); continue; }
      if (dir === '.data' || dir === '.bss' || dir === '.rodata') { setSection({ name: dir, flags: undefined }); continue; }
      // Any other directive (alignment, symbols, macros) ends a run of bytes.
      endRun();
      continue;
    }
    endRun();
    if (!opts.instructions || opts.dataOnly) continue;
    // Multi-dialect braces and operand-size placeholders in the mnemonic (`mov{l}`, `mov%z0`).
    const text = s.text.replace(/\{([^|}]*)\|[^}]*\}/g, '$1').replace(/^(\S+)/, (w) => normaliseMnemonic(w));
    const split = splitAttStatement(text);
    if (!split) continue;
    const mnemonic = split.mnemonic;
    if (mnemonic === '') continue;
    const cls = classifyAtt(mnemonic, splitAttOperands(split.rest));
    if (cls) items.push({ kind: 'instruction', start: src(s.at), end: src(s.end), statement: s.text, mnemonic, cls });
  }
  endRun();
  return items;
}

/** One byte of a run of data directives: its value (null when symbolic), its statement, its index there. */
interface RunByte {
  value: number | null;
  stmt: Statement;
  index: number;
}

function decodeRun(run: RunByte[], mode: CpuMode, items: AsmItem[], src: (i: number) => number): void {
  let known = run.findIndex((b) => b.value === null);
  if (known < 0) known = run.length;
  const bytes = Uint8Array.from(run.slice(0, known).map((b) => b.value!));
  let off = 0;
  while (off < bytes.length) {
    // An instruction that runs into a symbolic byte or past the run cannot be classified.
    if (instructionLength(bytes, off, mode) < 0) return;
    const insn = decode(bytes, off, mode, off);
    // After bytes that are no instruction in this mode, where the next one starts is unknown.
    if (!insn.valid || insn.length <= 0 || off + insn.length > bytes.length) return;
    if (insn.valid && insn.sensitive) {
      const stmt = run[off]!.stmt;
      const lastStmt = run[off + insn.length - 1]!.stmt;
      items.push({
        kind: 'hidden',
        start: src(stmt.at),
        end: src(lastStmt.end),
        statement: stmt.text,
        bytes: Array.from(bytes.slice(off, off + insn.length)),
        decoded: instructionText(insn),
        cls: insn.sensitive,
        offset: run[off]!.index,
      });
    }
    off += insn.length;
  }
}
