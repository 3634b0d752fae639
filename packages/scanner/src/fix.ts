// Applying fixes: text edits that wrap accesses in annotation macros, and the `#include` that brings
// the macros in. Pure functions over strings.
import type { FileScan, Finding, TextEdit } from './scan.js';

export const ANNOTATE_INCLUDE = '#include <previrt/annotate.h>';

/**
 * Where `#include <previrt/annotate.h>` goes: after the last #include that precedes `before`; else
 * after an include guard's `#define`; else after the comments at the top of the file.
 */
export function includeEdit(text: string, before: number): TextEdit {
  const lineEnd = (i: number) => {
    const n = text.indexOf('\n', i);
    return n < 0 ? text.length : n + 1;
  };
  const insertAt = (at: number): TextEdit => {
    const needsNewline = at > 0 && text[at - 1] !== '\n';
    return { start: at, end: at, text: `${needsNewline ? '\n' : ''}${ANNOTATE_INCLUDE}\n` };
  };
  const includeRe = /^[ \t]*#[ \t]*include\b[^\n]*/gm;
  let last = -1;
  let m: RegExpExecArray | null;
  while ((m = includeRe.exec(text)) !== null && m.index < before) last = m.index;
  if (last >= 0) return insertAt(lineEnd(last));
  // Skip the leading comments and blank lines.
  let i = 0;
  for (;;) {
    const rest = text.slice(i);
    const ws = /^\s+/.exec(rest);
    if (ws) { i += ws[0].length; continue; }
    if (rest.startsWith('/*')) {
      const e = text.indexOf('*/', i + 2);
      i = e < 0 ? text.length : e + 2;
      continue;
    }
    if (rest.startsWith('//')) { i = lineEnd(i); continue; }
    break;
  }
  const guard = /^#[ \t]*ifndef[ \t]+(\w+)[^\n]*\n[ \t]*#[ \t]*define[ \t]+(\w+)[^\n]*(\n|$)/.exec(text.slice(i));
  if (guard && guard[1] === guard[2]) return insertAt(i + guard[0].length);
  // The start of the first line of code.
  const lineStart = text.lastIndexOf('\n', i - 1) + 1;
  return insertAt(/^[ \t]*$/.test(text.slice(lineStart, i)) ? lineStart : i);
}

/**
 * Applies non-overlapping edits (the shortest first when two overlap, so that an inner access is
 * annotated before the statement around it; a second pass picks up the rest).
 */
export function applyEdits(text: string, edits: readonly TextEdit[]): { text: string; applied: number; deferred: number } {
  const chosen: TextEdit[] = [];
  const byLength = [...edits].sort((x, y) => (x.end - x.start) - (y.end - y.start) || x.start - y.start);
  let deferred = 0;
  for (const e of byLength) {
    const overlaps = chosen.some((c) => (e.start < c.end && c.start < e.end)
      || (e.start === e.end && c.start === c.end && e.start === c.start)
      || (e.start === e.end && e.start > c.start && e.start < c.end)
      || (c.start === c.end && c.start > e.start && c.start < e.end));
    if (overlaps) {
      deferred++;
      continue;
    }
    chosen.push(e);
  }
  chosen.sort((x, y) => x.start - y.start);
  let out = '';
  let pos = 0;
  for (const e of chosen) {
    out += text.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  out += text.slice(pos);
  return { text: out, applied: chosen.length, deferred };
}

/** Findings that count: not suppressed. */
export function activeFindings(scan: FileScan): Finding[] {
  return scan.findings.filter((f) => !f.suppressed);
}

/** The edits that fix one file's fixable findings, with the include when the file lacks it. */
export function fileEdits(scan: FileScan): TextEdit[] {
  const fixable = activeFindings(scan).filter((f) => f.fix);
  if (fixable.length === 0) return [];
  const edits = fixable.flatMap((f) => f.fix!.edits);
  if (scan.includeEdit) edits.push(scan.includeEdit);
  return edits;
}
