// SARIF 2.1.0 output validated against the official OASIS JSON schema (vendored in fixtures/lint,
// see its SOURCE file) with ajv; regions and fixes checked against the source they point into.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compileConfig, defaultConfig, formatJson, formatSarif, formatText, hasProblems, loadCParser, RULES, scanSource,
  type FileScan, type LintReport,
} from '@previrt/scanner';
import { SARIF_SCHEMA as schema, sarifValidator } from './sarif-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const casesDir = join(root, 'fixtures/lint/cases');

let scans: FileScan[];
let texts: Map<string, string>;

beforeAll(async () => {
  const parser = await loadCParser('native');
  const cc = compileConfig(defaultConfig());
  texts = new Map();
  scans = ['pagetable.c', 'mmio.c', 'asm.c', 'entry.S', 'suppress.c'].map((f) => {
    const text = readFileSync(join(casesDir, f), 'utf8');
    texts.set(`cases/${f}`, text);
    return scanSource(`cases/${f}`, text, parser, cc);
  });
});

function report(level: LintReport['level']): LintReport {
  return { toolVersion: '0.1.0', parser: 'native', root: join(root, 'fixtures/lint'), files: scans, level };
}

/** Offset of a 1-based line and column (UTF-16) in a text. */
function offsetOf(text: string, line: number, column: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) off = text.indexOf('\n', off) + 1;
  return off + column - 1;
}

test('the vendored schema is the OASIS SARIF 2.1.0 schema', () => {
  expect(schema.title).toBe('Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema');
  expect(schema.properties.version.enum).toEqual(['2.1.0']);
});

describe.each(['note', 'warning', 'error'] as const)('at --level %s', (level) => {
  test('the SARIF log validates against the schema', () => {
    const validate = sarifValidator();
    const log = JSON.parse(formatSarif(report(level)));
    const ok = validate(log);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  test('a log that breaks the schema is rejected (the validation can fail)', () => {
    const validate = sarifValidator();
    const log = JSON.parse(formatSarif(report(level)));
    log.runs[0].results.push({ ruleId: 'x', level: 'fatal', message: { text: 'm' } });
    expect(validate(log)).toBe(false);
  });
});

test('results name their rule, level, file and region; the region covers the reported text', () => {
  const log = JSON.parse(formatSarif(report('note')));
  const run = log.runs[0];
  expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(RULES.map((r) => r.id));
  expect(run.originalUriBaseIds.SRCROOT.uri).toMatch(/^file:\/\/\/.*\/fixtures\/lint\/$/);
  const all = scans.flatMap((s) => s.findings.map((f) => ({ file: s.file, f })));
  expect(run.results).toHaveLength(all.length);
  run.results.forEach((r: any, i: number) => {
    const { file, f } = all[i]!;
    expect(run.tool.driver.rules[r.ruleIndex].id).toBe(r.ruleId);
    expect(r.ruleId).toBe(f.rule);
    expect(r.level).toBe(f.severity);
    const loc = r.locations[0].physicalLocation;
    expect(loc.artifactLocation).toEqual({ uri: file, uriBaseId: 'SRCROOT' });
    const text = texts.get(file)!;
    const start = offsetOf(text, loc.region.startLine, loc.region.startColumn);
    const end = offsetOf(text, loc.region.endLine, loc.region.endColumn);
    expect([start, end]).toEqual([f.start, f.end]);
    expect(Boolean(r.suppressions)).toBe(Boolean(f.suppressed));
  });
});

test('each fix, applied from its SARIF regions alone, gives the annotated statement', () => {
  const log = JSON.parse(formatSarif(report('warning')));
  const withFixes = log.runs[0].results.filter((r: any) => r.fixes);
  expect(withFixes.length).toBeGreaterThan(20);
  for (const r of withFixes) {
    const file = r.locations[0].physicalLocation.artifactLocation.uri;
    let text = texts.get(file)!;
    const reps = [...r.fixes[0].artifactChanges[0].replacements].map((rep: any) => ({
      start: offsetOf(text, rep.deletedRegion.startLine, rep.deletedRegion.startColumn),
      end: offsetOf(text, rep.deletedRegion.endLine, rep.deletedRegion.endColumn),
      text: rep.insertedContent.text as string,
    })).sort((a, b) => b.start - a.start);
    for (const rep of reps) text = text.slice(0, rep.start) + rep.text + text.slice(rep.end);
    expect(text).toContain('#include <previrt/annotate.h>\n');
    expect(text).toMatch(/PV_[A-Z_]+(8|16)?\(/);
  }
});

test('text and JSON formats show the same findings; suppressed ones only in JSON and SARIF', () => {
  const r = report('note');
  const textLines = formatText(r).trimEnd().split('\n');
  const json = JSON.parse(formatJson(r));
  const active = json.findings.filter((f: any) => !f.suppressed);
  expect(textLines).toHaveLength(active.length);
  expect(textLines[0]).toMatch(/^cases\/pagetable\.c:20:2: warning: store to page-table entry `\*ptep` \(pte_t\) .* \[pte-set\]$/);
  expect(json.findings.length - active.length).toBe(json.summary.suppressed);
  expect(json.summary.errors + json.summary.warnings + json.summary.notes).toBe(active.length);
  expect(hasProblems(r)).toBe(true);
  expect(hasProblems({ ...r, files: [] })).toBe(false);
});
