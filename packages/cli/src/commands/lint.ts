// `previrt lint [paths..]`: the C annotation scanner. Finds sensitive inline asm (informational),
// instructions hidden in data directives and builtins, and page-table and MMIO accesses that carry no
// annotation macro; prints GCC-style diagnostics, JSON or SARIF; `--fix` annotates in place.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import {
  ConfigError, PathError, REPORT_FORMATS, SEVERITIES, defaultConfig, findConfigFile, formatReport, hasProblems,
  loadConfigFile, runLint, summaryLine, type LintConfig, type ParserBackend, type ReportFormat, type Severity,
} from '@previrt/scanner';
import { CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../errors.js';

interface LintArgs {
  paths: string[];
  format: ReportFormat;
  json: boolean;
  output?: string;
  level: Severity;
  fix: boolean;
  'dry-run': boolean;
  config?: string;
  jobs?: number;
  mode?: number;
  parser: ParserBackend;
  gitignore: boolean;
  quiet: boolean;
  verbose: boolean;
  'print-config': boolean;
}

function writeOutput(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new CliError(`${path}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
  }
}

function loadConfig(args: LintArgs, cwd: string): { config: LintConfig; source: string } {
  try {
    if (args.config !== undefined) return { config: loadConfigFile(resolve(cwd, args.config)), source: args.config };
    const found = findConfigFile(cwd);
    return found ? { config: loadConfigFile(found), source: found } : { config: defaultConfig(), source: '(defaults)' };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT_USAGE);
    throw err;
  }
}

export const lintCommand: CommandModule<object, LintArgs> = {
  command: 'lint [paths..]',
  describe: 'scan C sources for sensitive code that needs an annotation (page tables, MMIO, hidden instructions)',
  builder: (y) => y
    .positional('paths', { type: 'string', array: true, default: [] as string[], describe: 'files and directories to scan (default: .)' })
    .option('format', { alias: 'f', choices: REPORT_FORMATS as ReportFormat[], default: 'text' as ReportFormat, describe: 'report format' })
    .option('json', { type: 'boolean', default: false, describe: 'same as --format json' })
    .option('output', { alias: 'o', type: 'string', describe: 'write the report to this file (atomically) instead of stdout' })
    .option('level', { choices: SEVERITIES as Severity[], default: 'warning' as Severity, describe: 'lowest severity reported and counted for the exit status' })
    .option('fix', { type: 'boolean', default: false, describe: 'annotate fixable memory operations in place and add #include <previrt/annotate.h>' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'with --fix: print the changes as a unified diff, write nothing' })
    .option('config', { alias: 'c', type: 'string', describe: 'configuration file (default: the nearest .previrtrc.json or previrt.config.json)' })
    .option('jobs', { alias: 'j', type: 'number', describe: 'worker threads (default: one per core)' })
    .option('mode', { type: 'number', choices: [16, 32, 64], describe: 'CPU mode for decoding .byte encodings (default: the config, 32)' })
    .option('parser', { choices: ['native', 'wasm'] as ParserBackend[], default: 'native' as ParserBackend, describe: 'tree-sitter binding; native falls back to wasm when it cannot load' })
    .option('gitignore', { type: 'boolean', default: true, describe: 'honour .gitignore files (--no-gitignore scans ignored files too)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress line and no summary' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'say which parser and configuration are in use, and the throughput' })
    .option('print-config', { type: 'boolean', default: false, describe: 'print the effective configuration as JSON and exit' })
    .check((a) => {
      if (a['dry-run'] && !a.fix) throw new CliError('--dry-run needs --fix', EXIT_USAGE);
      if (a.jobs !== undefined && (!Number.isInteger(a.jobs) || a.jobs < 1)) throw new CliError(`--jobs ${a.jobs}: expected a positive whole number`, EXIT_USAGE);
      return true;
    })
    .example('$0 lint src/', 'GCC-style warnings for every unannotated page-table and MMIO access under src/')
    .example('$0 lint --format sarif -o lint.sarif .', 'a SARIF 2.1.0 log for code-scanning tools')
    .example('$0 lint --fix --dry-run kernel/', 'show the annotations --fix would add, as a diff'),
  handler: async (args) => {
    const cwd = process.cwd();
    const { config, source } = loadConfig(args, cwd);
    if (args.mode !== undefined) config.mode = args.mode as 16 | 32 | 64;
    if (!args.gitignore) config.gitignore = false;
    if (args['print-config']) {
      process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      return;
    }
    const format: ReportFormat = args.json ? 'json' : args.format;
    const progress = process.stderr.isTTY && !args.quiet;
    let lastProgress = 0;
    let result;
    try {
      result = await runLint({
        paths: args.paths, cwd, config, level: args.level, parser: args.parser, fix: args.fix, dryRun: args['dry-run'],
        ...(args.jobs !== undefined ? { jobs: args.jobs } : {}),
        ...(progress ? {
          onProgress: (done: number, total: number, bytes: number) => {
            const now = Date.now();
            if (now - lastProgress < 100 && done < total) return;
            lastProgress = now;
            process.stderr.write(`\r\x1b[Klint: ${done}/${total} files, ${(bytes / 1e6).toFixed(1)} MB`);
          },
        } : {}),
      });
    } catch (err) {
      if (err instanceof PathError) throw new CliError(err.message, EXIT_USAGE);
      throw err;
    } finally {
      if (progress) process.stderr.write('\r\x1b[K');
    }
    if (args.verbose) {
      const mb = result.report.files.reduce((a, f) => a + f.bytes, 0) / 1e6;
      process.stderr.write(`previrt lint: parser ${result.backend === 'native' ? 'tree-sitter (native binding)' : 'web-tree-sitter (wasm)'}`
        + `${result.fallbackReason ? ` because the ${result.fallbackReason}` : ''}; config ${source}; ${result.jobs} worker${result.jobs === 1 ? '' : 's'}; `
        + `${(mb / Math.max(result.seconds, 1e-9)).toFixed(1)} MB/s\n`);
    }
    if (result.report.files.length === 0 && !args.quiet) {
      process.stderr.write(`previrt lint: no files to scan under ${args.paths.length > 0 ? args.paths.join(' ') : '.'} (include: ${config.include.join(' ')})\n`);
    }
    if (args['dry-run']) {
      const diff = result.diff ?? '';
      if (args.output !== undefined) writeOutput(args.output, diff);
      else process.stdout.write(diff);
    } else {
      const text = formatReport(result.report, format);
      if (args.output !== undefined) writeOutput(args.output, text);
      else process.stdout.write(text);
    }
    if (!args.quiet) process.stderr.write(`${summaryLine(result.report, result.seconds)}\n`);
    process.exitCode = hasProblems(result.report) ? EXIT_PROBLEMS : EXIT_OK;
  },
};

export default lintCommand;
