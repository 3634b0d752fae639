// `previrt ldscript [--arch i386|x86_64] [-o <file>]`: the linker-script fragment that gathers the
// .afterburn record tables between __afterburn_start and __afterburn_end.
import type { CommandModule } from 'yargs';
import { generateLinkerScript, LINK_ARCHES, type LinkArch } from '@previrt/linker';
import { writeFileAtomic } from './header.js';

interface LdscriptArgs {
  arch: LinkArch;
  output?: string;
}

export const ldscriptCommand: CommandModule<object, LdscriptArgs> = {
  command: 'ldscript',
  describe: 'print the linker-script fragment that collects .afterburn records (include it inside SECTIONS)',
  builder: (y) => y
    .option('arch', { type: 'string', choices: LINK_ARCHES as LinkArch[], default: 'i386' as LinkArch, describe: 'target architecture (record alignment)' })
    .option('output', { alias: 'o', type: 'string', describe: "write the fragment to this file instead of stdout ('-' is stdout)" })
    .example('$0 ldscript --arch i386 -o build/afterburn.ld', 'then INCLUDE build/afterburn.ld inside SECTIONS { ... }'),
  handler: (args) => {
    const text = generateLinkerScript(args.arch);
    if (args.output === undefined || args.output === '-') process.stdout.write(text);
    else writeFileAtomic(args.output, text);
  },
};

export default ldscriptCommand;
