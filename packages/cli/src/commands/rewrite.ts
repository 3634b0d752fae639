// `previrt rewrite <in.s> [-o out.s]`: the afterburner alone, text to text ('-' is stdin/stdout).
import fs from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { rewrite, type Site, type Skipped } from '@previrt/afterburner';
import { kindName } from '@previrt/isa';
import { CliError, EXIT_USAGE } from '../errors.js';

interface RewriteArgs {
  input: string;
  output: string;
  '32'?: boolean;
  '64'?: boolean;
  json: boolean;
  quiet: boolean;
}

function writeAtomic(file: string, data: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, data, 'latin1');
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new CliError(`${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
  }
}

export const rewriteCommand: CommandModule<object, RewriteArgs> = {
  command: 'rewrite <input>',
  describe: 'rewrite GNU as (AT&T) assembly: pad every sensitive instruction and record it in .afterburn',
  builder: (y) => y
    .positional('input', { type: 'string', demandOption: true, describe: "assembly file ('-' reads stdin)" })
    .option('output', { alias: 'o', type: 'string', default: '-', describe: "rewritten assembly ('-' writes stdout)" })
    .option('32', { type: 'boolean', describe: 'ELF32 records (as --32)' })
    .option('64', { type: 'boolean', describe: 'ELF64 records (as --64); default: 64 when the input says .code64, else 32' })
    .option('json', { type: 'boolean', default: false, describe: 'print the sites as JSON on stdout (needs -o <file>)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no summary on stderr' })
    .conflicts('32', '64')
    .example('$0 rewrite foo.s -o foo.pv.s --32', 'rewrite one file for an i386 object')
    .example('gcc -S -o - foo.c | $0 rewrite - --64 > foo.s', 'as a filter'),
  handler: (args) => {
    // yargs hands a lone '-' positional over as ''.
    if (args.input === '') args.input = '-';
    let source: string;
    try {
      source = fs.readFileSync(args.input === '-' ? 0 : args.input, 'latin1');
    } catch (err) {
      throw new CliError(`${args.input}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
    }
    if (args.json && args.output === '-') throw new CliError('--json prints the sites on stdout: give the rewritten text a file with -o', EXIT_USAGE);
    const elfClass = args['32'] ? 32 : args['64'] ? 64 : undefined;
    const fileName = args.input === '-' ? '{standard input}' : args.input;
    const result = rewrite(source, { elfClass, fileName });
    for (const d of result.diagnostics) process.stderr.write(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.rule}]\n`);
    if (result.diagnostics.some((d) => d.severity === 'error')) {
      throw new CliError(`${fileName}: not rewritten (see the errors above)`, 1);
    }
    if (args.output === '-') process.stdout.write(Buffer.from(result.text, 'latin1'));
    else writeAtomic(args.output, result.text);
    if (args.json) {
      process.stdout.write(JSON.stringify({ file: fileName, sites: result.sites, skipped: result.skipped }, null, 2) + '\n');
    } else if (!args.quiet) {
      process.stderr.write(`${fileName}: ${summary(result.sites, result.skipped)}\n`);
    }
  },
};

function summary(sites: readonly Site[], skipped: readonly Skipped[]): string {
  const excluded = skipped.filter((s) => s.reason === 'excluded').length;
  const left = excluded > 0 ? `, ${excluded} excluded (records in .afterburn_excluded)` : '';
  if (sites.length === 0) return excluded > 0 ? `no sites${left}` : 'no sensitive instructions';
  const byKind = new Map<number, number>();
  for (const s of sites) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + 1);
  const parts = [...byKind].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${kindName(k)} ${n}`);
  return `${sites.length} site${sites.length === 1 ? '' : 's'} (${parts.join(', ')})${left}`;
}
