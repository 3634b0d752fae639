// `previrt lint` end to end: collect files, scan them in parallel, apply what only the whole tree
// knows (annotated accessor definitions, struct entry types), fix, and build the report.
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { LintConfig } from './config.js';
import { unifiedDiff } from './diff.js';
import { collectFiles, displayPath } from './files.js';
import { applyEdits, fileEdits } from './fix.js';
import type { LintReport } from './format.js';
import { loadCParser, type CParser, type ParserBackend } from './parser.js';
import { scanFiles } from './pool.js';
import type { Severity } from './rules.js';
import { compileConfig, scanSource, type FileScan } from './scan.js';

export const TOOL_VERSION = '0.1.0';

export interface LintOptions {
  paths: string[];
  cwd: string;
  config: LintConfig;
  level: Severity;
  jobs?: number;
  parser?: ParserBackend;
  fix?: boolean;
  /** With fix: compute the fixes and return them as a diff instead of writing. */
  dryRun?: boolean;
  onProgress?: (done: number, total: number, bytes: number) => void;
}

export interface LintResult {
  report: LintReport;
  /** The unified diff of --fix --dry-run. */
  diff?: string;
  backend: ParserBackend;
  fallbackReason?: string;
  jobs: number;
  seconds: number;
}

/** What the whole scanned tree says about accessors and entry types. */
export interface TreeFacts {
  annotated: Set<string>;
  structEntryTypes: Set<string>;
}

export function treeFacts(scans: readonly FileScan[]): TreeFacts {
  const facts: TreeFacts = { annotated: new Set(), structEntryTypes: new Set() };
  for (const s of scans) {
    for (const n of s.annotatedDefinitions) facts.annotated.add(n);
    for (const t of s.structEntryTypes) facts.structEntryTypes.add(t);
  }
  return facts;
}

/**
 * Drops calls of MMIO accessors whose definition in the tree carries an annotation (the definition is
 * the site), and the fixes of whole-entry accesses of struct entry types (the macros take integers).
 */
export function applyTreeFacts(scan: FileScan, facts: TreeFacts): FileScan {
  const findings = [];
  for (const f of scan.findings) {
    if (f.accessor && facts.annotated.has(f.accessor)) continue;
    if (f.fix && f.entryType && facts.structEntryTypes.has(f.entryType)) {
      const { fix: _drop, ...rest } = f;
      findings.push({ ...rest, message: `${f.message} (not fixed automatically: ${f.entryType} is a struct; annotate a member)` });
      continue;
    }
    findings.push(f);
  }
  const anyFix = findings.some((f) => f.fix && !f.suppressed);
  const { includeEdit, ...rest } = scan;
  return { ...rest, findings, ...(anyFix && includeEdit ? { includeEdit } : {}) };
}

/** Writes through a temporary file in the same directory and a rename, keeping the file's mode. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.previrt-tmp`);
  let mode: number | undefined;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch {
    mode = undefined;
  }
  try {
    writeFileSync(tmp, text, mode !== undefined ? { mode } : {});
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Fixes one file to a fixed point (an inner access first, then the statement around it). */
export function fixText(name: string, text: string, scan: FileScan, parser: CParser, config: LintConfig, facts: TreeFacts): { text: string; scan: FileScan } {
  const cc = compileConfig(config);
  let cur = text;
  let s = scan;
  for (let pass = 0; pass < 6; pass++) {
    const edits = fileEdits(s);
    if (edits.length === 0) break;
    const next = applyEdits(cur, edits).text;
    if (next === cur) break;
    cur = next;
    s = applyTreeFacts(scanSource(name, cur, parser, cc, Buffer.byteLength(cur)), facts);
  }
  return { text: cur, scan: s };
}

export async function runLint(opts: LintOptions): Promise<LintResult> {
  const t0 = process.hrtime.bigint();
  const abs = await collectFiles(opts.paths, opts.config, opts.cwd);
  const files = abs.map((path) => ({ path, name: displayPath(path, opts.cwd) }));
  const scanned = await scanFiles(files, {
    config: opts.config, ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
    ...(opts.parser ? { parser: opts.parser } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const facts = treeFacts(scanned.scans);
  const scans = scanned.scans.map((s) => applyTreeFacts(s, facts));
  let diff: string | undefined;
  let fixedFiles: string[] | undefined;
  if (opts.fix) {
    fixedFiles = [];
    diff = '';
    let parser: CParser | undefined;
    for (let i = 0; i < scans.length; i++) {
      if (fileEdits(scans[i]!).length === 0) continue;
      parser ??= await loadCParser(scanned.backend);
      const original = readFileSync(files[i]!.path, 'utf8');
      const fixed = fixText(files[i]!.name, original, scans[i]!, parser, opts.config, facts);
      scans[i] = fixed.scan;
      if (fixed.text === original) continue;
      fixedFiles.push(files[i]!.name);
      if (opts.dryRun) diff += unifiedDiff(files[i]!.name, original, fixed.text);
      else writeFileAtomic(files[i]!.path, fixed.text);
    }
  }
  const report: LintReport = {
    toolVersion: TOOL_VERSION, parser: scanned.backend, root: opts.cwd, files: scans, level: opts.level,
    ...(fixedFiles ? { fixedFiles } : {}), ...(opts.fix && opts.dryRun ? { dryRun: true } : {}),
  };
  return {
    report, backend: scanned.backend, jobs: scanned.jobs,
    ...(scanned.fallbackReason ? { fallbackReason: scanned.fallbackReason } : {}),
    ...(opts.fix && opts.dryRun ? { diff } : {}),
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
  };
}
