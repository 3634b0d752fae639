// The `previrt` command: parse arguments, call the packages, print. Each command lives in
// ./commands/<name>.ts and exports a yargs CommandModule.
import yargs, { type CommandModule } from 'yargs';
import { CliError, EXIT_USAGE } from './errors.js';
import { rewriteCommand } from './commands/rewrite.js';
import { asCommand } from './commands/as.js';
import { ccCommand } from './commands/cc.js';
import { headerCommand } from './commands/header.js';
import { ldscriptCommand } from './commands/ldscript.js';
import { checkCommand } from './commands/check.js';
import { inspectCommand } from './commands/inspect.js';
import { runCommand } from './commands/run.js';
import { verifyCommand } from './commands/verify.js';
import { decodeCommand } from './commands/decode.js';
import { lintCommand } from './commands/lint.js';

const COMMANDS: CommandModule<any, any>[] = [
  rewriteCommand,
  asCommand,
  ccCommand,
  headerCommand,
  ldscriptCommand,
  checkCommand,
  inspectCommand,
  runCommand,
  verifyCommand,
  decodeCommand,
  lintCommand,
];

/** Reports a failure as one line on stderr and sets the exit code; never prints a host stack trace. */
export function reportError(err: unknown): void {
  if (err instanceof CliError) {
    process.stderr.write(`previrt: ${err.message}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`previrt: internal error: ${message}\n`);
  if (process.env.PREVIRT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 70;
}

export async function main(argv: string[]): Promise<void> {
  // A reader that closes early (`previrt decode big.elf | head`) ends the output, not the program.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    reportError(err);
  });
  let parser = yargs(argv)
    .scriptName('previrt')
    .usage('$0 <command> [options]\n\nAutomated pre-virtualization: one x86 kernel binary for raw hardware and many hypervisors.')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new CliError(`${msg} (see 'previrt --help')`, EXIT_USAGE);
    });
  for (const cmd of COMMANDS) parser = parser.command(cmd);
  try {
    await parser.parseAsync();
  } catch (err) {
    reportError(err);
  }
}
