// `previrt inspect <elf> [--json]`: lists the .afterburn records with their kinds and a count per kind.
import type { CommandModule } from 'yargs';
import { inspectElf, CheckInputError, ElfError } from '@previrt/linker';
import { CliError, EXIT_USAGE } from '../errors.js';
import { loadElf } from './check.js';

interface InspectArgs {
  elf: string;
  json: boolean;
  summary: boolean;
  mode?: number;
}

const hex = (n: number) => `0x${n.toString(16)}`;

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <elf>',
  describe: 'list the .afterburn records of an ELF image or object, with a count per kind',
  builder: (y) => y
    .positional('elf', { type: 'string', demandOption: true, describe: 'ELF executable, kernel image or object' })
    .option('json', { type: 'boolean', default: false, describe: 'print the records and counts as JSON' })
    .option('mode', { type: 'number', choices: [16, 32, 64], describe: 'decode the sites as 16-, 32- or 64-bit code (default: from the ELF machine)' })
    .option('summary', { alias: 's', type: 'boolean', default: false, describe: 'print only the count per kind' }),
  handler: (args) => {
    const elf = loadElf(args.elf);
    let result;
    try {
      result = inspectElf(elf, args.mode as 16 | 32 | 64 | undefined);
    } catch (err) {
      if (err instanceof CheckInputError || err instanceof ElfError) throw new CliError(err.message, EXIT_USAGE);
      throw err;
    }
    if (args.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const out: string[] = [];
    if (!args.summary) {
      for (const r of result.records) {
        const where = r.symbol ? ` <${r.symbol}${r.offset ? `+${hex(r.offset)}` : ''}>` : '';
        out.push(`${hex(r.address)}${where}  ${r.kind}  insn ${r.insnLen}  site ${r.siteLen}${r.instruction ? `  ${r.instruction}` : ''}`);
      }
    }
    for (const p of result.problems) out.push(`${result.file}: ${p}`);
    const kinds = Object.entries(result.byKind).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    out.push(`${result.file}: ${result.records.length} records (.afterburn format v${result.format}, ELF${result.elfClass})`);
    for (const [kind, n] of kinds) out.push(`  ${kind.padEnd(20)} ${n}`);
    process.stdout.write(`${out.join('\n')}\n`);
  },
};

export default inspectCommand;
