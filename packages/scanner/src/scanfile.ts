// Reading and scanning one file from disk (used by the worker threads and by the in-thread path).
import { readFileSync } from 'node:fs';
import type { CParser } from './parser.js';
import { ruleInfo } from './rules.js';
import { scanSource, type CompiledConfig, type FileScan } from './scan.js';

function scanError(name: string, bytes: number, message: string, cc: CompiledConfig): FileScan {
  const severity = cc.severity('scan-error', ruleInfo('scan-error').defaultSeverity);
  return {
    file: name, bytes, annotatedDefinitions: [], structEntryTypes: [], includesAnnotateHeader: false,
    findings: severity === 'off' ? [] : [{
      rule: 'scan-error', severity, message, start: 0, end: 0, line: 1, column: 1, endLine: 1, endColumn: 1, kind: 'scan-error',
    }],
  };
}

/** Scans the file at `path`, reporting it as `name`; an unreadable or binary file becomes a scan-error finding. */
export function scanPath(path: string, name: string, parser: CParser, cc: CompiledConfig): FileScan {
  const t0 = process.hrtime.bigint();
  const scan = scanPathUntimed(path, name, parser, cc);
  scan.ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return scan;
}

function scanPathUntimed(path: string, name: string, parser: CParser, cc: CompiledConfig): FileScan {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    return scanError(name, 0, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, cc);
  }
  if (buf.includes(0)) return scanError(name, buf.length, 'not a text file (it contains NUL bytes)', cc);
  return scanSource(name, buf.toString('utf8'), parser, cc, buf.length);
}
