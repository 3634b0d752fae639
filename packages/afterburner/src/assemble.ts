// The drop-in assembler: turns one `as` command line into a plan (rewrite the inputs into temporary
// files, run the real GNU as on them, rename its output into place) that either this process or the
// tiny native client carries out. Planning reads the inputs and writes the temporary files; running
// the real assembler is left to the caller so that its diagnostics reach the terminal untouched.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseGasArgs } from './gas-args.js';
import { rewrite, type Diagnostic, type Site, type Skipped } from './rewrite.js';

/** Marker file in a directory that holds previrt's `as` shim: never take that `as` for the real one. */
export const SHIM_MARKER = '.previrt-shim';

export interface AsRequest {
  argv: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Files that are previrt's own `as` (the native client), never to be run as the real assembler. */
  selfPaths?: readonly string[];
  /** Where standard input was saved, when the plan asked for it (see needsStdin). */
  stdinFile?: string;
}

export interface AsPlan {
  /** Text for stderr before anything runs (previrt's own diagnostics). */
  message: string;
  /** Exit without running the assembler, with this code (when not null). */
  exitCode: number | null;
  assembler: string;
  args: string[];
  /** Feed this file to the assembler's standard input. */
  stdinFrom: string | null;
  /** On success rename [from, to]; on failure remove `from`. */
  rename: [string, string] | null;
  /** Remove after the assembler ran. */
  unlink: string[];
  /** After success, replace these strings in this dependency file (`-MD`). */
  fixDependencies: { file: string; replace: [string, string][] } | null;
  sites: Site[];
  skipped: Skipped[];
}

function defaultElfClass(): 32 | 64 {
  return process.arch === 'ia32' ? 32 : 64;
}

/** Whether the command line reads standard input (no input file, or `-`). */
export function needsStdin(argv: readonly string[]): boolean {
  const parsed = parseGasArgs(argv, defaultElfClass());
  if (parsed.informational) return false;
  return parsed.inputIndexes.length === 0 || parsed.inputIndexes.some((i) => parsed.args[i] === '-');
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function realpathOrSelf(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}

/** The real GNU as: `PREVIRT_AS`, else the first `as` on PATH that is not previrt's shim. */
export function findRealAssembler(env: Readonly<Record<string, string | undefined>>, cwd: string, selfPaths: readonly string[] = []): string | null {
  const forced = env.PREVIRT_AS;
  const self = new Set(selfPaths.map(realpathOrSelf));
  const pathDirs = (env.PATH ?? '').split(':');
  if (forced) {
    if (forced.includes('/')) return path.resolve(cwd, forced);
    for (const dir of pathDirs) {
      const cand = path.resolve(cwd, dir || '.', forced);
      if (isExecutable(cand)) return cand;
    }
    return null;
  }
  for (const dir of pathDirs) {
    const d = path.resolve(cwd, dir || '.');
    const cand = path.join(d, 'as');
    if (!isExecutable(cand)) continue;
    if (fs.existsSync(path.join(d, SHIM_MARKER)) || self.has(realpathOrSelf(cand))) continue;
    return cand;
  }
  return null;
}

function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.rule}]\n`;
}

function tempName(dir: string, base: string, ext: string): string {
  return path.join(dir, `.${base}.previrt-${process.pid}-${randomBytes(4).toString('hex')}${ext}`);
}

/**
 * Plans one assembler run. Reads the inputs (a file that cannot be read is left for the real
 * assembler to report), rewrites them, and writes the rewritten text to temporary files when there
 * is anything to rewrite; otherwise the real assembler gets the original inputs, byte for byte.
 */
export function planAssembly(req: AsRequest): AsPlan {
  const parsed = parseGasArgs(req.argv, defaultElfClass());
  const plan: AsPlan = {
    message: '', exitCode: null, assembler: '', args: parsed.args.slice(), stdinFrom: null,
    rename: null, unlink: [], fixDependencies: null, sites: [], skipped: [],
  };
  const assembler = findRealAssembler(req.env, req.cwd, req.selfPaths);
  if (assembler === null) {
    plan.message = `previrt: cannot find the real GNU as on PATH (${req.env.PATH ?? 'PATH is not set'}); set PREVIRT_AS to its path\n`;
    plan.exitCode = 2;
    return plan;
  }
  plan.assembler = assembler;
  if (parsed.informational) return plan;

  const usesStdin = parsed.inputIndexes.length === 0 || parsed.inputIndexes.some((i) => parsed.args[i] === '-');
  if (usesStdin && req.stdinFile === undefined) throw new Error('planAssembly: standard input was not saved');
  const tmpDir = req.env.TMPDIR || os.tmpdir();
  // Objects skipped by design (position-independent compiles, vDSO, PREVIRT_EXCLUDE) are assembled
  // exactly as plain `as` would: no sites and no .afterburn_excluded table either, since they do not
  // become code of the image `previrt check` proves (and an extra section would change the bytes of a
  // vDSO image that the kernel carries as data).
  const skip = Boolean(req.env.PREVIRT_CC_SKIP) && req.env.PREVIRT_REWRITE_ALL !== '1';

  // The inputs as the assembler would read them: [index in args or -1 for implicit stdin, name, text].
  const inputs: { index: number; name: string; text: string | null }[] = [];
  const readInput = (index: number, word: string) => {
    const isStdin = word === '-';
    const name = isStdin ? '{standard input}' : word;
    let text: string | null = null;
    try {
      text = fs.readFileSync(isStdin ? req.stdinFile! : path.resolve(req.cwd, word), 'latin1');
    } catch {
      text = null; // the real assembler reports it
    }
    inputs.push({ index, name, text });
  };
  if (parsed.inputIndexes.length === 0) readInput(-1, '-');
  for (const i of parsed.inputIndexes) readInput(i, parsed.args[i]!);

  // Output through a temporary name in the same directory, renamed into place on success.
  const outAbs = path.resolve(req.cwd, parsed.output);
  const outDir = path.dirname(outAbs);
  // /dev/null and other special files are written directly, as the real assembler would.
  const special = fs.existsSync(outAbs) && !fs.statSync(outAbs).isFile();
  const outTmp = special ? outAbs : tempName(outDir, path.basename(outAbs), '.o');
  if (!special) {
    if (parsed.outputIndex >= 0) plan.args[parsed.outputIndex] = parsed.outputAttached ? `-o${outTmp}` : outTmp;
    else plan.args.unshift('-o', outTmp);
    plan.rename = [outTmp, outAbs];
  }
  const shift = !special && parsed.outputIndex < 0 ? 2 : 0;

  let anySites = false;
  const rewritten: (string | null)[] = [];
  let errors = 0;
  const includeDirs = includeDirectories(parsed.args);
  // Temporary files, and what they stand for (for -MD output).
  const temps: [string, string][] = [];
  const writeTemp = (name: string, text: string, keepAs: string | null): string => {
    const file = keepAs ?? path.join(tmpDir, `previrt-as-${process.pid}-${randomBytes(4).toString('hex')}-${temps.length}.s`);
    // The line marker keeps the assembler's file name and line numbers those of the original.
    fs.writeFileSync(file, `# 1 "${name.replace(/["\\]/g, '\\$&')}"\n${text}`, { encoding: 'latin1', mode: 0o644 });
    if (keepAs === null) plan.unlink.push(file);
    temps.push([file, name]);
    return file;
  };
  const rewriteText = (name: string, text: string, tag: string, depth: number): string | null => {
    let includes = 0;
    const r = rewrite(text, {
      elfClass: parsed.elfClass, fileName: name, labelTag: tag,
      // An included file with sites is included through a rewritten copy; GNU as looks for it in
      // the current directory, then in each -I directory.
      include: depth > 8 ? undefined : (file) => {
        const found = [req.cwd, ...includeDirs].map((d) => path.resolve(req.cwd, d, file)).find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
        if (!found) return null;
        const sub = rewriteText(file, fs.readFileSync(found, 'latin1'), `${tag}i${includes++}`, depth + 1);
        return sub === null ? null : writeTemp(file, sub, null);
      },
    });
    for (const d of r.diagnostics) {
      plan.message += formatDiagnostic(d);
      if (d.severity === 'error') errors++;
    }
    plan.sites.push(...r.sites);
    plan.skipped.push(...r.skipped);
    const changed = r.text !== text;
    if (changed) anySites = true;
    return changed ? r.text : null;
  };
  inputs.forEach((input, k) => {
    if (input.text === null || skip) { rewritten.push(null); return; }
    rewritten.push(rewriteText(input.name, input.text, inputs.length > 1 ? `t${k}` : '', 0));
  });
  if (errors > 0) {
    plan.exitCode = 1;
    plan.rename = null;
    return plan;
  }

  if (anySites || parsed.keepTemps) {
    const keepBase = outAbs.replace(/\.[^./]*$/, '');
    inputs.forEach((input, k) => {
      if (input.text === null) return;
      const keepAs = parsed.keepTemps ? `${keepBase}.previrt${inputs.length > 1 ? `.${k}` : ''}.s` : null;
      const file = writeTemp(input.name, rewritten[k] ?? input.text, keepAs);
      if (input.index < 0) plan.args.push(file);
      else plan.args[input.index + shift] = file;
    });
  } else if (usesStdin) {
    plan.stdinFrom = req.stdinFile!;
  }
  const depReplace: [string, string][] = [[outTmp, parsed.output], ...temps];
  if (req.env.PREVIRT_REPORT) appendReport(req.env.PREVIRT_REPORT, req.cwd, outAbs, inputs.map((i) => i.name), plan, skip);
  if (parsed.dependencyFile !== null) {
    plan.fixDependencies = { file: path.resolve(req.cwd, parsed.dependencyFile), replace: depReplace };
  }
  return plan;
}

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout?: Buffer;
  stderr?: Buffer;
}

/**
 * Runs a plan in this process. With `capture`, the assembler's output is collected instead of
 * inherited (the server sends it back to the client).
 */
export function runPlan(plan: AsPlan, cwd: string, env: Readonly<Record<string, string | undefined>>, capture: boolean): RunResult {
  const messages = Buffer.from(plan.message, 'utf8');
  if (!capture && messages.length > 0) process.stderr.write(messages);
  if (plan.exitCode !== null) {
    cleanup(plan, false);
    return { code: plan.exitCode, signal: null, stdout: Buffer.alloc(0), stderr: messages };
  }
  let stdinFd: number | 'inherit' | 'ignore' = capture ? 'ignore' : 'inherit';
  if (plan.stdinFrom !== null) stdinFd = fs.openSync(plan.stdinFrom, 'r');
  const r = spawnSync(plan.assembler, plan.args, {
    cwd, env: env as NodeJS.ProcessEnv,
    stdio: [stdinFd, capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'],
    maxBuffer: 1 << 30,
  });
  if (typeof stdinFd === 'number') fs.closeSync(stdinFd);
  const code = r.error ? 127 : (r.status ?? 128);
  if (r.error) {
    const msg = Buffer.from(`previrt: cannot run ${plan.assembler}: ${r.error.message}\n`);
    if (!capture) process.stderr.write(msg);
    cleanup(plan, false);
    return { code, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.concat([messages, msg]) };
  }
  cleanup(plan, code === 0 && r.signal === null);
  return {
    code, signal: r.signal,
    stdout: capture ? r.stdout : undefined,
    stderr: capture ? Buffer.concat([messages, r.stderr]) : undefined,
  };
}

/** After the assembler: rename its output into place (or remove it), fix `-MD` output, remove temps. */
export function cleanup(plan: AsPlan, success: boolean): void {
  if (plan.rename) {
    const [from, to] = plan.rename;
    if (success) fs.renameSync(from, to);
    else {
      // GNU as deletes its object file when it fails: so does the drop-in.
      fs.rmSync(from, { force: true });
      fs.rmSync(to, { force: true });
    }
  }
  if (success && plan.fixDependencies) {
    try {
      let deps = fs.readFileSync(plan.fixDependencies.file, 'utf8');
      for (const [from, to] of plan.fixDependencies.replace) deps = deps.split(from).join(to);
      fs.writeFileSync(plan.fixDependencies.file, deps);
    } catch {
      // no dependency file was written: nothing to fix
    }
  }
  for (const f of plan.unlink) fs.rmSync(f, { force: true });
}

/** The -I directories of a GNU as command line, in order. */
function includeDirectories(args: readonly string[]): string[] {
  const dirs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-I' && i + 1 < args.length) dirs.push(args[++i]!);
    else if (a.startsWith('-I') && a.length > 2) dirs.push(a.slice(2));
  }
  return dirs;
}

function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) out[key(it)] = (out[key(it)] ?? 0) + 1;
  return out;
}

/**
 * PREVIRT_REPORT=<file>: one JSON line per assembled object (sites and skipped sensitive instructions
 * by class), appended with O_APPEND so that parallel builds can share the file.
 */
function appendReport(file: string, cwd: string, output: string, inputs: string[], plan: AsPlan, skip: boolean): void {
  const line = JSON.stringify({
    output, cwd, inputs, unchanged: skip ? 'skipped' : undefined,
    sites: countBy(plan.sites, (s) => s.className),
    skipped: countBy(plan.skipped, (s) => `${s.className}:${s.reason}`),
  });
  fs.appendFileSync(path.resolve(cwd, file), `${line}\n`);
}
