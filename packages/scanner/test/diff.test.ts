// The unified diff of --fix --dry-run against the reference tool: GNU patch must turn the old text
// into the new one with our diff, for hand-picked cases and for seeded random edits.
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { unifiedDiff } from '../src/diff.js';
import { readText, tmpPath } from './support.js';

function patchApplies(oldText: string, newText: string): void {
  const diff = unifiedDiff('f.c', oldText, newText);
  const file = tmpPath('f.c');
  writeFileSync(file, oldText);
  const r = spawnSync('patch', ['--quiet', '--force', '--no-backup-if-mismatch', file], { input: diff, encoding: 'utf8' });
  expect({ status: r.status, stderr: r.stderr, out: r.stdout }).toEqual({ status: 0, stderr: '', out: '' });
  expect(readText(file)).toBe(newText);
}

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('equal texts give an empty diff', () => {
  expect(unifiedDiff('f.c', 'a\nb\n', 'a\nb\n')).toBe('');
});

test('a one-line change gives the hunk diff -u gives', () => {
  const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].join('\n') + '\n';
  const b = a.replace('5\n', 'five\n');
  expect(unifiedDiff('f.c', a, b)).toBe([
    '--- a/f.c', '+++ b/f.c', '@@ -2,7 +2,7 @@', ' 2', ' 3', ' 4', '-5', '+five', ' 6', ' 7', ' 8', '',
  ].join('\n'));
});

test('hand-picked cases apply with patch: insertions at the start and end, no final newline, distant hunks', () => {
  const base = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n') + '\n';
  patchApplies(base, `#include <x.h>\n${base}`);
  patchApplies(base, `${base}tail\n`);
  patchApplies(base, base.replace('line 3\n', 'LINE 3\n').replace('line 27\n', 'LINE 27\n'));
  patchApplies(base, base.replace('line 29\n', 'line 29'));
  patchApplies(base.replace('line 29\n', 'line 29'), base);
  patchApplies('', 'a\n');
  patchApplies('a\n', '');
});

test('seeded random edits apply with patch', () => {
  const next = rng(7);
  for (let round = 0; round < 60; round++) {
    const n = 1 + Math.floor(next() * 40);
    const a = Array.from({ length: n }, () => `x${Math.floor(next() * 6)}`);
    const b = [...a];
    const edits = 1 + Math.floor(next() * 5);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(next() * (b.length + 1));
      const r = next();
      if (r < 0.4) b.splice(at, 0, `new${e}`);
      else if (r < 0.7 && b.length > 0) b.splice(Math.min(at, b.length - 1), 1);
      else if (b.length > 0) b[Math.min(at, b.length - 1)] = `changed${e}`;
    }
    patchApplies(a.length ? `${a.join('\n')}\n` : '', b.length ? `${b.join('\n')}\n` : '');
  }
});
