// Report formats: GCC-style text, JSON, and SARIF 2.1.0. Pure functions of the scan results.
import { pathToFileURL } from 'node:url';
import type { ParserBackend } from './parser.js';
import { RULES, ruleInfo, severityRank, type Severity } from './rules.js';
import type { FileScan, Finding, TextEdit } from './scan.js';

export type ReportFormat = 'text' | 'json' | 'sarif';
export const REPORT_FORMATS: readonly ReportFormat[] = ['text', 'json', 'sarif'];

export interface LintReport {
  toolVersion: string;
  parser: ParserBackend;
  /** Absolute directory the file paths are relative to (SARIF's %SRCROOT%). */
  root: string;
  /** Files as scanned, paths relative to `root` with `/` separators. */
  files: FileScan[];
  /** Findings below this severity are left out of the report and of the exit status. */
  level: Severity;
  /** Files whose text --fix changed (or would change, with dryRun). */
  fixedFiles?: string[];
  dryRun?: boolean;
}

export interface Summary {
  files: number;
  bytes: number;
  errors: number;
  warnings: number;
  notes: number;
  suppressed: number;
  fixable: number;
  byRule: Record<string, number>;
}

/** The findings that a report shows (at or above the level), suppressed ones included. */
export function reportedFindings(report: LintReport): { file: string; finding: Finding }[] {
  const min = severityRank(report.level);
  const out: { file: string; finding: Finding }[] = [];
  for (const f of report.files) {
    for (const finding of f.findings) if (severityRank(finding.severity) >= min) out.push({ file: f.file, finding });
  }
  return out;
}

export function summarize(report: LintReport): Summary {
  const s: Summary = { files: report.files.length, bytes: 0, errors: 0, warnings: 0, notes: 0, suppressed: 0, fixable: 0, byRule: {} };
  for (const f of report.files) s.bytes += f.bytes;
  for (const { finding } of reportedFindings(report)) {
    if (finding.suppressed) {
      s.suppressed++;
      continue;
    }
    if (finding.severity === 'error') s.errors++;
    else if (finding.severity === 'warning') s.warnings++;
    else s.notes++;
    if (finding.fix) s.fixable++;
    s.byRule[finding.rule] = (s.byRule[finding.rule] ?? 0) + 1;
  }
  return s;
}

/** True when findings at or above the level remain: the exit status is then 1. */
export function hasProblems(report: LintReport): boolean {
  return reportedFindings(report).some(({ finding }) => !finding.suppressed);
}

export function formatText(report: LintReport): string {
  const lines: string[] = [];
  for (const { file, finding: f } of reportedFindings(report)) {
    if (f.suppressed) continue;
    lines.push(`${file}:${f.line}:${f.column}: ${f.severity}: ${f.message} [${f.rule}]`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

export function formatJson(report: LintReport): string {
  const findings = reportedFindings(report).map(({ file, finding: f }) => ({
    file,
    line: f.line,
    column: f.column,
    endLine: f.endLine,
    endColumn: f.endColumn,
    severity: f.severity,
    rule: f.rule,
    kind: f.kind,
    message: f.message,
    ...(f.suppressed ? { suppressed: f.suppressed } : {}),
    ...(f.fix ? { fix: { description: f.fix.description, edits: f.fix.edits.map(jsonEdit) } } : {}),
  }));
  const slowest = report.files.filter((f) => f.ms !== undefined).sort((a, b) => b.ms! - a.ms!).slice(0, 5)
    .map((f) => ({ file: f.file, bytes: f.bytes, ms: Math.round(f.ms! * 10) / 10 }));
  const doc = {
    version: 1,
    tool: { name: 'previrt lint', version: report.toolVersion },
    parser: report.parser,
    level: report.level,
    summary: { ...summarize(report), slowest },
    ...(report.fixedFiles ? { fixedFiles: report.fixedFiles } : {}),
    findings,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function jsonEdit(e: TextEdit) {
  return { ...e.range, start: e.start, end: e.end, text: e.text };
}

/** A SARIF artifact location: relative to %SRCROOT% for files below it, a file: URI otherwise. */
function sarifLocation(file: string): { uri: string; uriBaseId?: string } {
  if (file.startsWith('/')) return { uri: pathToFileURL(file).href };
  return { uri: file.split('/').map(encodeURIComponent).join('/'), uriBaseId: 'SRCROOT' };
}

function sarifRegion(e: TextEdit) {
  const r = e.range!;
  return { startLine: r.startLine, startColumn: r.startColumn, endLine: r.endLine, endColumn: r.endColumn };
}

/** SARIF 2.1.0: one run, every rule described, results with locations, fixes and suppressions. */
export function formatSarif(report: LintReport): string {
  const ruleIndex = new Map(RULES.map((r, i) => [r.id, i]));
  const root = pathToFileURL(report.root.endsWith('/') ? report.root : `${report.root}/`).href;
  const results = reportedFindings(report).map(({ file, finding: f }) => {
    const location = {
      physicalLocation: {
        artifactLocation: sarifLocation(file),
        region: { startLine: f.line, startColumn: f.column, endLine: f.endLine, endColumn: f.endColumn },
      },
    };
    const fileScan = report.files.find((s) => s.file === file);
    const result: Record<string, unknown> = {
      ruleId: f.rule,
      ruleIndex: ruleIndex.get(f.rule),
      level: f.severity,
      message: { text: f.message },
      locations: [location],
      properties: { kind: f.kind },
    };
    if (f.fix) {
      const edits = [...f.fix.edits, ...(fileScan?.includeEdit ? [fileScan.includeEdit] : [])];
      result.fixes = [{
        description: { text: f.fix.description },
        artifactChanges: [{
          artifactLocation: sarifLocation(file),
          replacements: edits.map((e) => ({ deletedRegion: sarifRegion(e), insertedContent: { text: e.text } })),
        }],
      }];
    }
    if (f.suppressed) {
      result.suppressions = [{
        kind: 'inSource',
        justification: f.suppressed === 'region'
          ? 'inside a PV_NO_AFTERBURN_BEGIN/END region (code that runs before any VMM exists)'
          : 'previrt:ignore comment',
      }];
    }
    return result;
  });
  const log = {
    $schema: 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json',
    version: '2.1.0',
    runs: [{
      tool: {
        driver: {
          name: 'previrt lint',
          fullName: 'previrt lint: C annotation scanner for pre-virtualization',
          version: report.toolVersion,
          semanticVersion: report.toolVersion,
          rules: RULES.map((r) => ({
            id: r.id,
            name: r.name,
            shortDescription: { text: r.short },
            fullDescription: { text: r.full },
            defaultConfiguration: { level: r.defaultSeverity },
            help: { text: r.full },
            ...(r.kind ? { properties: { annotationMacro: r.kind.macro, kindId: r.kind.id } } : {}),
          })),
        },
      },
      invocations: [{ executionSuccessful: true }],
      originalUriBaseIds: { SRCROOT: { uri: root } },
      columnKind: 'utf16CodeUnits',
      properties: { parser: report.parser, level: report.level },
      results,
    }],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}

export function formatReport(report: LintReport, format: ReportFormat): string {
  switch (format) {
    case 'text': return formatText(report);
    case 'json': return formatJson(report);
    case 'sarif': return formatSarif(report);
  }
}

/** A one-line summary for stderr. */
export function summaryLine(report: LintReport, seconds: number): string {
  const s = summarize(report);
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const parts = [plural(s.errors, 'error'), plural(s.warnings, 'warning')];
  if (severityRank(report.level) <= severityRank('note')) parts.push(plural(s.notes, 'note'));
  const fixed = report.fixedFiles ? `, ${plural(report.fixedFiles.length, 'file')} ${report.dryRun ? 'to fix (dry run)' : 'fixed'}` : '';
  const sup = s.suppressed > 0 ? `, ${s.suppressed} suppressed` : '';
  return `previrt lint: ${parts.join(', ')}${sup}${fixed} in ${plural(s.files, 'file')} (${(s.bytes / 1e6).toFixed(1)} MB, ${seconds.toFixed(1)} s)`;
}

export { ruleInfo };
