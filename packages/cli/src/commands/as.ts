// `previrt as [GNU as arguments]`: the drop-in assembler, run in this process. (Under `previrt cc` the
// native shim asks a long-lived server for the same plan instead of starting Node per object.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CommandModule } from 'yargs';
import { needsStdin, planAssembly, runPlan } from '@previrt/afterburner';

const USAGE = `previrt as [GNU as arguments] [--keep-temps]

A drop-in GNU as: rewrites each input with the afterburner (every sensitive instruction padded and
recorded in .afterburn), then runs the real assembler (PREVIRT_AS, else the first 'as' on PATH that
is not previrt's shim) and writes its output atomically. Its diagnostics and exit code are the real
assembler's. --keep-temps keeps the rewritten text as <output>.previrt.s. The GNU as options follow.

`;

/** The words after `as` on the command line, untouched by yargs. */
export function rawCommandArgs(args: { '--'?: unknown[] }): string[] {
  return ((args['--'] ?? []) as unknown[]).map(String).slice(1);
}

export const asCommand: CommandModule<object, { '--'?: unknown[] }> = {
  command: 'as',
  describe: 'drop-in GNU as: rewrite, then run the real assembler (all GNU as options; --keep-temps)',
  builder: (y) => y.parserConfiguration({ 'unknown-options-as-args': true, 'halt-at-non-option': true, 'populate--': true }).strict(false),
  handler: (parsed) => {
    const argv = rawCommandArgs(parsed);
    if (argv.includes('--help')) process.stdout.write(USAGE);
    let stdinFile: string | undefined;
    if (needsStdin(argv)) {
      stdinFile = path.join(process.env.TMPDIR || os.tmpdir(), `previrt-stdin-${process.pid}-${randomBytes(6).toString('hex')}.s`);
      fs.writeFileSync(stdinFile, fs.readFileSync(0));
    }
    try {
      const plan = planAssembly({ argv, cwd: process.cwd(), env: process.env, stdinFile });
      const r = runPlan(plan, process.cwd(), process.env, false);
      if (r.signal) process.kill(process.pid, r.signal);
      process.exitCode = r.code;
    } finally {
      if (stdinFile) fs.rmSync(stdinFile, { force: true });
    }
  },
};
