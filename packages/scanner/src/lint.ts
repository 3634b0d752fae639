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
import { afterburnerOffRegions, compileConfig, findMacroUses, scanSource, type FileScan, type Finding } from './scan.js';
import { LineIndex } from './text.js';

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

/**
 * Notes for inline asm whose template is built by a function-like macro of another file from its
 * arguments (`PROBE_INSN("rdtscp", ...)` with the macro in a header): each use is expanded alone, in
 * a snippet made of the macro's #define and the use, and what the template holds is reported at the
 * use. Only needed when notes are reported, since the afterburner sees these instructions anyway.
 */
export function expandTemplateMacroUses(scans: FileScan[], read: (i: number) => string, parser: CParser, config: LintConfig): void {
  const defs = scans.flatMap((s) => (s.templateMacros ?? []).map((m) => ({ ...m, file: s.file })));
  if (defs.length === 0) return;
  const cc = compileConfig(config);
  const names = new Map<string, (typeof defs)[number]>();
  for (const d of defs) if (!names.has(d.name)) names.set(d.name, d);
  const nameRe = new RegExp(`\\b(?:${[...names.keys()].join('|')})\\s*\\(`);
  for (let i = 0; i < scans.length; i++) {
    const scan = scans[i]!;
    let text: string;
    try {
      text = read(i);
    } catch {
      continue;
    }
    if (!nameRe.test(text)) continue;
    const lines = new LineIndex(text);
    const regions = afterburnerOffRegions(text);
    const added: Finding[] = [];
    const ownDefinitions = new Set((scan.templateMacros ?? []).map((m) => m.name));
    for (const def of names.values()) {
      if (ownDefinitions.has(def.name)) continue; // a file's own definition is expanded with its own uses
      if (!text.includes(def.name)) continue;
      for (const use of findMacroUses(text, def.name)) {
        const lineText = text.slice(lines.lineStart(use.line), lines.lineEnd(use.line));
        if (/^\s*#\s*define\b/.test(lineText)) continue;
        const snippet = `${def.define}\nvoid __previrt_use(void) { ${def.name}(${use.args.join(', ')}); }\n`;
        const expanded = scanSource(def.file, snippet, parser, cc);
        const pos = lines.position(use.at);
        const end = lines.position(use.at + def.name.length);
        for (const f of expanded.findings) {
          if (f.rule !== 'asm-sensitive' && f.rule !== 'hidden-instruction') continue;
          const finding: Finding = {
            ...f, start: use.at, end: use.at + def.name.length, line: pos.line, column: pos.column, endLine: end.line, endColumn: end.column,
            message: `${f.message} (template of macro ${def.name}, ${def.file}:${def.line})`,
          };
          delete finding.fix;
          if (regions.some((r) => pos.line >= r.startLine && pos.line <= r.endLine)) finding.suppressed = 'region';
          added.push(finding);
        }
      }
    }
    if (added.length > 0) scans[i] = { ...scan, findings: [...scan.findings, ...added].sort((a, b) => a.start - b.start || a.rule.localeCompare(b.rule)) };
  }
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
  let parser: CParser | undefined;
  if (opts.level === 'note' && scans.some((s) => s.templateMacros)) {
    parser = await loadCParser(scanned.backend);
    expandTemplateMacroUses(scans, (i) => readFileSync(files[i]!.path, 'utf8'), parser, opts.config);
  }
  if (opts.fix) {
    fixedFiles = [];
    diff = '';
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
