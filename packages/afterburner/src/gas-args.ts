// GNU as command lines, as the drop-in assembler must understand them: which words are input files,
// where the output goes, which ELF class is produced. Everything else is passed through untouched.

export interface GasArgs {
  /** The arguments to give the real assembler (previrt's own options removed). */
  args: string[];
  /** Indexes into `args` of the input files ('-' is standard input). */
  inputIndexes: number[];
  /** Index into `args` of the output file name (the word after `-o`, or inside `-ofile`), or -1. */
  outputIndex: number;
  /** Whether the output name is attached (`-ofile`) rather than a separate word. */
  outputAttached: boolean;
  output: string;
  elfClass: 32 | 64;
  /** `--version`, `--help` and friends: run the real assembler untouched. */
  informational: boolean;
  /** `-MD file` / `--MD file`: the dependency file the real assembler writes, or null. */
  dependencyFile: string | null;
  keepTemps: boolean;
}

/** Options whose value is the next word (GNU as getopt: short `o:`, `I:`, i386 `Q:`; long options). */
const WITH_VALUE = new Set([
  '-o', '-I', '-Q', '--defsym', '-defsym', '--MD', '-MD', '--debug-prefix-map', '-debug-prefix-map',
  '--listing-lhs-width', '--listing-lhs-width2', '--listing-rhs-width', '--listing-cont-lines',
  '--hash-size', '--multibyte-handling', '--gdwarf-cie-version', '--elf-stt-common',
  '--generate-missing-build-notes', '--size-check',
]);
// Long options that take a value only through `=` (never the next word) are covered by the rule that
// a word starting with `-` is an option.
const INFORMATIONAL = new Set(['--version', '-version', '--help', '-help', '--target-help', '-target-help', '--statistics']);

export function parseGasArgs(argv: readonly string[], defaultElfClass: 32 | 64): GasArgs {
  const args: string[] = [];
  const inputIndexes: number[] = [];
  let outputIndex = -1;
  let outputAttached = false;
  let output = 'a.out';
  let elfClass = defaultElfClass;
  let informational = false;
  let dependencyFile: string | null = null;
  let keepTemps = false;
  let onlyFiles = false;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    if (onlyFiles || a === '-' || !a.startsWith('-')) {
      inputIndexes.push(args.length);
      args.push(a);
      continue;
    }
    if (a === '--') { onlyFiles = true; args.push(a); continue; }
    if (a === '--keep-temps') { keepTemps = true; continue; }
    if (INFORMATIONAL.has(a)) informational = true;
    if (a === '--32' || a === '--x32') elfClass = 32;
    else if (a === '--64') elfClass = 64;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (a === '-o') {
      args.push(a);
      if (k + 1 < argv.length) { outputIndex = args.length; output = argv[++k]!; args.push(output); }
      continue;
    }
    if (a.startsWith('-o') && !a.startsWith('--') && a.length > 2) {
      outputIndex = args.length; outputAttached = true; output = a.slice(2); args.push(a);
      continue;
    }
    if ((name === '--MD' || name === '-MD') && eq < 0 && k + 1 < argv.length) {
      dependencyFile = argv[k + 1]!;
    } else if ((name === '--MD' || name === '-MD') && eq > 0) {
      dependencyFile = a.slice(eq + 1);
    }
    args.push(a);
    if (eq < 0 && WITH_VALUE.has(a) && k + 1 < argv.length) args.push(argv[++k]!);
  }
  return { args, inputIndexes, outputIndex, outputAttached, output, elfClass, informational, dependencyFile, keepTemps };
}
