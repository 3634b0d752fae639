// A unified diff of two texts (for `previrt lint --fix --dry-run`): Myers' O(ND) line diff, hunks with
// three lines of context, the format `diff -u` and `patch` use.

/** Lines with their newline, so that a last line without one differs from the same line with one. */
function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

type Op = { kind: ' ' | '-' | '+'; line: string };

/** The shortest edit script between two line arrays (Myers 1986, greedy forward search). */
function diffLines(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max;
  const v = new Int32Array(2 * max + 2);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk back through the saved frontiers.
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1]! < vd[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : vd[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push({ kind: ' ', line: a[x - 1]! });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) ops.push({ kind: '+', line: b[y - 1]! });
      else ops.push({ kind: '-', line: a[x - 1]! });
    }
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}

/**
 * A unified diff from `oldText` to `newText`, labelled `a/<name>` and `b/<name>`; '' when equal.
 * A missing final newline is marked with `\ No newline at end of file`, as diff does.
 */
export function unifiedDiff(name: string, oldText: string, newText: string, context = 3): string {
  if (oldText === newText) return '';
  const a = splitLines(oldText);
  const b = splitLines(newText);
  const ops = diffLines(a, b);
  // Index each op with its line numbers in a and b.
  const rows: { op: Op; ai: number; bi: number }[] = [];
  let ai = 0;
  let bi = 0;
  for (const op of ops) {
    rows.push({ op, ai, bi });
    if (op.kind !== '+') ai++;
    if (op.kind !== '-') bi++;
  }
  const out: string[] = [`--- a/${name}`, `+++ b/${name}`];
  let i = 0;
  while (i < rows.length) {
    if (rows[i]!.op.kind === ' ') {
      i++;
      continue;
    }
    // A hunk: from `context` lines before this change to `context` lines after the last change that is
    // at most 2*context lines further on.
    const start = Math.max(0, i - context);
    let end = i;
    let j = i;
    while (j < rows.length) {
      if (rows[j]!.op.kind !== ' ') {
        end = j;
        j++;
        continue;
      }
      let k = j;
      while (k < rows.length && rows[k]!.op.kind === ' ') k++;
      if (k < rows.length && k - j <= 2 * context) {
        j = k;
        continue;
      }
      break;
    }
    const stop = Math.min(rows.length, end + 1 + context);
    const hunk = rows.slice(start, stop);
    const aStart = hunk[0]!.ai;
    const bStart = hunk[0]!.bi;
    const aLen = hunk.filter((r) => r.op.kind !== '+').length;
    const bLen = hunk.filter((r) => r.op.kind !== '-').length;
    const range = (s: number, len: number) => (len === 1 ? `${s + 1}` : `${len === 0 ? s : s + 1},${len}`);
    out.push(`@@ -${range(aStart, aLen)} +${range(bStart, bLen)} @@`);
    for (const r of hunk) {
      const line = r.op.line;
      if (line.endsWith('\n')) {
        out.push(`${r.op.kind}${line.slice(0, -1)}`);
      } else {
        out.push(`${r.op.kind}${line}`, '\\ No newline at end of file');
      }
    }
    i = stop;
  }
  return `${out.join('\n')}\n`;
}
