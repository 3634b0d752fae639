// The IDE drives of `previrt run` and `previrt verify` (QEMU's --drive syntax).
import { CliError, EXIT_USAGE } from '../errors.js';

export interface DriveSpec {
  file: string;
  /** 0: primary master, 1: primary slave. */
  index: number;
}

function parseDrive(spec: string): { file: string; index: number } {
  let file = '';
  let index = -1;
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? 'file' : part.slice(0, eq);
    const value = eq < 0 ? part : part.slice(eq + 1);
    if (key === 'file') file = value;
    else if (key === 'index') {
      if (value !== '0' && value !== '1') throw new CliError(`--drive ${spec}: index must be 0 (primary master) or 1 (primary slave)`, EXIT_USAGE);
      index = Number(value);
    } else if (key === 'format' && value === 'raw') continue;
    else if (key === 'if' && value === 'ide') continue;
    else throw new CliError(`--drive ${spec}: unknown key '${key}' (expected file=<image>[,index=0|1])`, EXIT_USAGE);
  }
  if (!file) throw new CliError(`--drive ${spec}: no file= given`, EXIT_USAGE);
  return { file, index };
}

/**
 * The drives of `--disk` (the primary master) and `--drive` (QEMU's syntax, format=raw and if=ide
 * accepted), each with its index: a drive without one takes the master if free, else the slave.
 */
export function driveSpecs(args: { disk?: string; drive?: string[] }): DriveSpec[] {
  const specs = (args.drive ?? []).map(parseDrive);
  if (args.disk) specs.unshift({ file: args.disk, index: 0 });
  const used: DriveSpec[] = [];
  for (const s of specs) {
    const index = s.index >= 0 ? s.index : used.some((d) => d.index === 0) ? 1 : 0;
    if (used.some((d) => d.index === index)) throw new CliError(`--drive ${s.file}: index ${index} is already in use`, EXIT_USAGE);
    used.push({ file: s.file, index });
  }
  return used;
}

