// Positions in source text. Offsets are UTF-16 code units (JavaScript string indices, which is also
// what the tree-sitter bindings report for JavaScript strings); lines and columns are 1-based, columns
// counted in UTF-16 code units (SARIF's default `columnKind`).

export interface Position {
  line: number;
  column: number;
}

/** Maps offsets to lines and columns with a binary search over line starts. */
export class LineIndex {
  private readonly starts: number[];

  constructor(readonly text: string) {
    const starts = [0];
    let i = text.indexOf('\n');
    while (i !== -1) {
      starts.push(i + 1);
      i = text.indexOf('\n', i + 1);
    }
    this.starts = starts;
  }

  get lineCount(): number {
    return this.starts.length;
  }

  position(offset: number): Position {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  }

  /** Offset of the start of a 1-based line. */
  lineStart(line: number): number {
    return this.starts[Math.max(0, Math.min(line - 1, this.starts.length - 1))]!;
  }

  /** Offset just past the end of a 1-based line's text (before its newline). */
  lineEnd(line: number): number {
    const next = line < this.starts.length ? this.starts[line]! - 1 : this.text.length;
    return next > 0 && this.text[next - 1] === '\r' ? next - 1 : next;
  }
}

/** Converts a glob with `*` and `?` (the only wildcards in name lists) to an anchored regex source. */
export function globToRegexSource(glob: string): string {
  return glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '\\w*').replace(/\?/g, '\\w');
}

/** A predicate for "matches one of these names or globs". */
export function nameMatcher(names: readonly string[]): (name: string) => boolean {
  if (names.length === 0) return () => false;
  const exact = new Set(names.filter((n) => !/[*?]/.test(n)));
  const globs = names.filter((n) => /[*?]/.test(n));
  const re = globs.length > 0 ? new RegExp(`^(?:${globs.map(globToRegexSource).join('|')})$`) : null;
  return (name) => exact.has(name) || (re !== null && re.test(name));
}

/** Splits a macro or function argument list text at top-level commas. */
export function splitTopLevelCommas(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** True when a macro argument needs parentheses to survive being passed through another macro. */
export function hasTopLevelComma(text: string): boolean {
  return splitTopLevelCommas(text).length > 1;
}
