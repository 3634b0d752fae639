// `previrt lint` as a user runs it (the built CLI in a child process): exit statuses, formats, the
// configuration file, --fix/--dry-run on disk, worker threads and the wasm fallback giving the same
// findings as one thread and the native binding.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sarifValidator } from '../packages/scanner/test/sarif-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/cli/bin/previrt.js');
let dir: string;

function lint(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [cli, 'lint', ...args], { cwd, encoding: 'utf8', env: { ...process.env, PREVIRT_DEBUG: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lint-cli-'));
  cpSync(join(root, 'fixtures/lint/cases'), join(dir, 'src'), { recursive: true });
  rmSync(join(dir, 'src/pagetable.c.fixed'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('GCC-style warnings and exit status 1 when warnings remain; 0 when clean', () => {
  const r = lint(['src/pagetable.c', 'src/mmio.c']);
  expect(r.status).toBe(1);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(21 + 16);
  expect(lines[0]).toMatch(/^src\/mmio\.c:24:10: warning: `readl` reads a device register without an annotation; use PV_MMIO_READ \[mmio-read\]$/);
  expect(r.stderr).toMatch(/^previrt lint: 0 errors, 37 warnings in 2 files \(0\.0 MB, \d+\.\d s\)\n$/);
  const clean = lint(['src/lint-types.h']);
  expect(clean).toEqual({ status: 0, stdout: '', stderr: expect.stringMatching(/^previrt lint: 0 errors, 0 warnings in 1 file /) });
});

test('--level picks what is shown and what counts: errors only, or notes too', () => {
  const errors = lint(['--level', 'error', 'src/asm.c', 'src/pagetable.c']);
  expect(errors.status).toBe(1);
  expect(errors.stdout.trimEnd().split('\n').every((l) => / error: /.test(l))).toBe(true);
  expect(lint(['--level', 'error', 'src/pagetable.c']).status).toBe(0);
  const notes = lint(['--level', 'note', '-q', 'src/asm.c']);
  expect(notes.stdout).toContain('asm.c:10:16: note: inline asm `cli` is sensitive');
  expect(notes.stderr).toBe('');
});

test('--format sarif validates against the SARIF 2.1.0 schema; --json is JSON; -o writes the report', () => {
  const r = lint(['--format', 'sarif', '--level', 'note', '-o', 'out.sarif', 'src']);
  expect(r.status).toBe(1);
  expect(r.stdout).toBe('');
  const log = JSON.parse(readFileSync(join(dir, 'out.sarif'), 'utf8'));
  const validate = sarifValidator();
  expect(validate(log) ? [] : validate.errors).toEqual([]);
  expect(log.runs[0].results.length).toBeGreaterThan(80);
  const json = JSON.parse(lint(['--json', 'src']).stdout);
  expect(json.tool.name).toBe('previrt lint');
  expect(json.parser).toBe('native');
  expect(json.summary.files).toBe(7); // six sources and lint-types.h
});

test('bad arguments, paths and configuration files exit with 2 and one line naming the problem', () => {
  expect(lint(['no/such/dir'])).toEqual({ status: 2, stdout: '', stderr: 'previrt: no/such/dir: no such file or directory\n' });
  expect(lint(['--dry-run', 'src']).stderr).toBe('previrt: --dry-run needs --fix\n');
  expect(lint(['--format', 'xml', 'src']).status).toBe(2);
  writeFileSync(join(dir, '.previrtrc.json'), '{ "mode": 48 }');
  expect(lint(['src'])).toEqual({ status: 2, stdout: '', stderr: `previrt: ${join(dir, '.previrtrc.json')}: mode: expected 16, 32 or 64\n` });
  writeFileSync(join(dir, '.previrtrc.json'), '{ "mode": 32, }');
  expect(lint(['src']).stderr).toMatch(/^previrt: .*\.previrtrc\.json: not valid JSON \(/);
});

test('the configuration file is found upwards from the current directory and --print-config shows it merged', () => {
  writeFileSync(join(dir, 'previrt.config.json'), JSON.stringify({ exclude: ['**/mmio.c'], rules: { 'pte-set': 'off', 'pte-read': 'error' } }));
  const r = lint(['--json', '.'], join(dir, 'src'));
  const json = JSON.parse(r.stdout);
  const files = new Set(json.findings.map((f: { file: string }) => f.file));
  expect(files.has('mmio.c')).toBe(false);
  expect(json.findings.some((f: { rule: string }) => f.rule === 'pte-set')).toBe(false);
  expect(json.findings.filter((f: { rule: string }) => f.rule === 'pte-read').every((f: { severity: string }) => f.severity === 'error')).toBe(true);
  const printed = JSON.parse(lint(['--print-config'], join(dir, 'src')).stdout);
  expect(printed.exclude).toEqual(['**/mmio.c']);
  expect(printed.pageTable.pteTypes).toEqual(['pte_t']);
});

test('.gitignore is honoured unless --no-gitignore', () => {
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, '.gitignore'), 'src/mmio.c\n');
  const ignored = JSON.parse(lint(['--json', '.']).stdout);
  expect(ignored.findings.some((f: { file: string }) => f.file === 'src/mmio.c')).toBe(false);
  const all = JSON.parse(lint(['--json', '--no-gitignore', '.']).stdout);
  expect(all.findings.some((f: { file: string }) => f.file === 'src/mmio.c')).toBe(true);
});

test('two worker threads and the wasm parser give the same report as one thread with the native parser', () => {
  const strip = (s: string) => {
    const j = JSON.parse(s);
    const { slowest: _timings, ...summary } = j.summary;
    return { findings: j.findings, summary };
  };
  const one = lint(['--json', '-j', '1', '--level', 'note', 'src']);
  const two = lint(['--json', '-j', '2', '--level', 'note', 'src']);
  const wasm = lint(['--json', '-j', '2', '--parser', 'wasm', '--level', 'note', '-v', 'src']);
  expect(strip(two.stdout)).toEqual(strip(one.stdout));
  expect(strip(wasm.stdout)).toEqual(strip(one.stdout));
  expect(JSON.parse(wasm.stdout).parser).toBe('wasm');
  expect(wasm.stderr).toMatch(/parser web-tree-sitter \(wasm\); config \(defaults\); 2 workers;/);
  expect(lint(['-v', '-j', '1', 'src']).stderr).toMatch(/parser tree-sitter \(native binding\); config \(defaults\); 1 worker;/);
});

test('--fix --dry-run prints a diff and changes nothing; --fix writes, and then the tree is clean of fixable findings', () => {
  const before = readFileSync(join(dir, 'src/mmio.c'), 'utf8');
  const dry = lint(['--fix', '--dry-run', 'src/mmio.c']);
  expect(dry.stdout).toMatch(/^--- a\/src\/mmio\.c\n\+\+\+ b\/src\/mmio\.c\n@@ /);
  expect(dry.stdout).toContain('+\tu32 v = PV_MMIO_READ(base + 4);\n');
  expect(dry.stderr).toMatch(/1 file to fix \(dry run\)/);
  expect(readFileSync(join(dir, 'src/mmio.c'), 'utf8')).toBe(before);
  const fix = lint(['--fix', 'src/mmio.c']);
  expect(fix.stderr).toMatch(/1 file fixed/);
  const after = readFileSync(join(dir, 'src/mmio.c'), 'utf8');
  expect(after).not.toBe(before);
  // What remains are the accessors that cannot become a single macro (readq, ioread32, iowrite32).
  expect(fix.stdout.trimEnd().split('\n').map((l) => l.replace(/: warning: .*\[/, ' ['))).toEqual([
    'src/mmio.c:29:8 [mmio-read]', 'src/mmio.c:30:6 [mmio-read]', 'src/mmio.c:31:2 [mmio-write]',
  ]);
  expect(lint(['--fix', '--dry-run', 'src/mmio.c']).stdout).toBe('');
});
