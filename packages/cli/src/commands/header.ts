// `previrt header [-o <dir>]`: writes <dir>/previrt/annotate.h, the annotation macros for sensitive
// memory operations, generated from the @previrt/isa catalogue.
import { mkdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CommandModule } from 'yargs';
import { generateAnnotateHeader } from '@previrt/linker';
import { CliError, EXIT_USAGE } from '../errors.js';

/** Writes a file through a temporary name and a rename, so a reader never sees half of it. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`${path}: cannot write (${code ?? (err as Error).message})`, EXIT_USAGE);
  }
}

interface HeaderArgs {
  output: string;
  stdout: boolean;
}

export const headerCommand: CommandModule<object, HeaderArgs> = {
  command: 'header',
  describe: 'write previrt/annotate.h: C macros that mark sensitive memory operations (page tables, MMIO)',
  builder: (y) => y
    .option('output', { alias: 'o', type: 'string', default: '.', describe: "directory that receives previrt/annotate.h ('-' prints it)" })
    .option('stdout', { type: 'boolean', default: false, describe: 'print the header instead of writing it' })
    .example('$0 header -o build/include', 'writes build/include/previrt/annotate.h'),
  handler: (args) => {
    const text = generateAnnotateHeader();
    if (args.stdout || args.output === '-') {
      process.stdout.write(text);
      return;
    }
    const dir = join(args.output, 'previrt');
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new CliError(`${dir}: cannot create directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
    }
    writeFileAtomic(join(dir, 'annotate.h'), text);
  },
};

export default headerCommand;
