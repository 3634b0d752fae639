// The files to scan: explicit files as given; directories expanded with globby through the include and
// exclude globs of the configuration, honouring .gitignore. (An I/O edge of the scanner.)
import { statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { globby } from 'globby';
import type { LintConfig } from './config.js';

/** A path argument that does not exist or cannot be read. */
export class PathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathError';
  }
}

/** Makes a path relative to `cwd` with `/` separators when it lies below it; absolute otherwise. */
export function displayPath(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  const shown = rel === '' || rel.startsWith('..') || isAbsolute(rel) ? abs : rel;
  return shown.split(sep).join('/');
}

/**
 * Absolute paths of the files to scan, sorted and without duplicates. Explicit files are always
 * scanned; directories contribute the files that match `include`, minus `exclude` and .gitignore.
 */
export async function collectFiles(paths: readonly string[], config: LintConfig, cwd: string): Promise<string[]> {
  const out = new Set<string>();
  for (const p of paths.length > 0 ? paths : ['.']) {
    const abs = resolve(cwd, p);
    let isDir: boolean;
    try {
      const st = statSync(abs);
      isDir = st.isDirectory();
      if (!isDir && !st.isFile()) throw new PathError(`${p}: not a regular file or directory`);
    } catch (err) {
      if (err instanceof PathError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new PathError(`${p}: ${code === 'ENOENT' ? 'no such file or directory' : `cannot read (${code ?? (err as Error).message})`}`);
    }
    if (!isDir) {
      out.add(abs);
      continue;
    }
    const found = await globby(config.include, {
      cwd: abs,
      ignore: config.exclude,
      gitignore: config.gitignore,
      onlyFiles: true,
      followSymbolicLinks: false,
      dot: false,
    });
    for (const f of found) out.add(join(abs, f));
  }
  return [...out].sort();
}
