// `previrt check <elf> [--json]`: proves that every sensitive instruction of an image is covered by
// exactly one correct .afterburn record. Exit 0 when proven, 1 when problems were found, 2 on
// unusable input.
import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { parseElf, checkElf, formatCheckText, summaryLine, ElfError, CheckInputError, type CheckResult } from '@previrt/linker';
import { CliError, EXIT_PROBLEMS, EXIT_USAGE } from '../errors.js';

/** Reads and parses an ELF file, turning every failure into a one-line CliError (exit 2). */
export function loadElf(file: string) {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`${file}: cannot read (${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code ?? (err as Error).message})`, EXIT_USAGE);
  }
  try {
    return parseElf(bytes, file);
  } catch (err) {
    if (err instanceof ElfError) throw new CliError(err.message, EXIT_USAGE);
    throw err;
  }
}

interface CheckArgs {
  elf: string;
  json: boolean;
  quiet: boolean;
  'exclude-symbol': string[];
  'exclude-section': string[];
  'all-classes': boolean;
  'line-info': boolean;
  mode?: number;
}

/** The JSON shape of the issue, plus the extra facts. */
export function checkJson(r: CheckResult): object {
  return {
    file: r.file,
    sites: r.sites,
    covered: r.covered,
    uncovered: r.uncovered,
    badRecords: r.badRecords,
    records: r.records,
    recordsByKind: r.recordsByKind,
    optionalUncovered: r.optionalUncovered,
    excluded: r.excluded,
    instructionsDecoded: r.instructionsDecoded,
    codeBytes: r.codeBytes,
    executableBytes: r.executableBytes,
  };
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <elf>',
  describe: 'prove that every sensitive instruction of an ELF image is covered by exactly one correct .afterburn record',
  builder: (y) => y
    .positional('elf', { type: 'string', demandOption: true, describe: 'ELF executable, kernel image or object' })
    .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print problems only, no summary line' })
    .option('exclude-symbol', { type: 'string', array: true, default: [], describe: "leave this symbol's instructions alone (a trailing * matches a prefix); repeatable" })
    .option('exclude-section', { type: 'string', array: true, default: [], describe: 'leave this section alone; repeatable' })
    .option('all-classes', { type: 'boolean', default: false, describe: 'require records for trap classes too (int3, ud2, int n, into, syscall, sysenter)' })
    .option('mode', { type: 'number', choices: [16, 32, 64], describe: 'decode as 16-, 32- or 64-bit code (default: from the ELF machine; 16 for .code16 boot objects)' })
    .option('line-info', { type: 'boolean', default: true, describe: 'name source:line from .debug_line (--no-line-info to skip)' })
    .example('$0 check build/kernel.elf', 'problems as "file: address <symbol+offset> [source:line]: problem"')
    .example('$0 check vmlinux --exclude-section .init.text --json', 'machine-readable result'),
  handler: (args) => {
    const elf = loadElf(args.elf);
    // A progress line for large images, on a terminal only, never with --quiet or --json.
    const progress = process.stderr.isTTY === true && !args.quiet && !args.json && elf.bytes.length > 1 << 20;
    if (progress) process.stderr.write(`previrt check: ${args.elf}: decoding ${elf.sections.length} sections...`);
    let result: CheckResult;
    try {
      result = checkElf(elf, {
        excludeSymbols: args['exclude-symbol'], excludeSections: args['exclude-section'],
        allClasses: args['all-classes'], lineInfo: args['line-info'], mode: args.mode as 16 | 32 | 64 | undefined,
      });
    } catch (err) {
      if (err instanceof CheckInputError || err instanceof ElfError) throw new CliError(err.message, EXIT_USAGE);
      throw err;
    } finally {
      if (progress) process.stderr.write('\r\x1b[K');
    }
    if (args.json) {
      process.stdout.write(`${JSON.stringify(checkJson(result), null, 2)}\n`);
    } else {
      const lines = formatCheckText(result);
      if (!args.quiet) lines.push(summaryLine(result));
      if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    }
    if (result.uncovered.length > 0 || result.badRecords.length > 0) process.exitCode = EXIT_PROBLEMS;
  },
};

export default checkCommand;
