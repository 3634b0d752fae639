// `previrt decode`: finds every sensitive instruction class of the catalogue in objects assembled by
// GNU as from fixtures/isa (each class in several operand forms), and nothing else; rejects bad input
// with one line and exit code 2.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SENSITIVE_CLASSES } from '@previrt/isa';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const previrt = join(root, 'packages/cli/bin/previrt.js');
let dir: string;

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'decode-cli-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(process.execPath, [previrt, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

interface Site { address: number; length: number; mnemonic: string; class: string; symbol: string | null; offset: number }

function assembleFixture(name: string, mode: 32 | 64): string {
  const out = join(dir, `${name}.o`);
  execFileSync('as', [mode === 64 ? '--64' : '--32', '-o', out, join(root, 'fixtures/isa', `${name}.S`)], { stdio: 'pipe' });
  return out;
}

/** The c_<id>_<n> and n_<n> labels of a fixture, from its source. */
function labels(name: string): { sensitive: Map<string, number>; plain: string[] } {
  const src = readFileSync(join(root, 'fixtures/isa', `${name}.S`), 'utf8');
  const sensitive = new Map<string, number>();
  const plain: string[] = [];
  for (const m of src.matchAll(/^(c_(\d+)_\d+|n_\d+):/gm)) {
    if (m[2]) sensitive.set(m[1]!, Number(m[2])); else plain.push(m[1]!);
  }
  return { sensitive, plain };
}

describe.each([
  ['sensitive-i386', 32 as const, [] as number[]],
  // Not encodable in 64-bit mode: arpl (17), into (50).
  ['sensitive-x86_64', 64 as const, [17, 50]],
])('previrt decode --sensitive on %s', (name, mode, absent) => {
  test('reports exactly the labelled sensitive instructions, each with its class, and every class', () => {
    const obj = assembleFixture(name, mode);
    const r = cli(['decode', obj, '--sensitive', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { file: string; sites: Site[] };
    expect(report.file).toBe(obj);
    const { sensitive, plain } = labels(name);
    const byId = new Map(SENSITIVE_CLASSES.map((c) => [c.id, c.name]));
    // Every site sits on a c_ label (offset 0) and has the class the label names.
    for (const site of report.sites) {
      expect(site.offset).toBe(0);
      expect(sensitive.has(site.symbol ?? '')).toBe(true);
      expect(site.class).toBe(byId.get(sensitive.get(site.symbol!)!));
      expect(site.length).toBeGreaterThan(0);
    }
    // Every c_ label is reported exactly once; no n_ label is.
    const reported = report.sites.map((s) => s.symbol);
    expect(new Set(reported).size).toBe(reported.length);
    expect([...sensitive.keys()].sort()).toEqual([...reported].sort());
    for (const p of plain) expect(reported).not.toContain(p);
    // Every catalogue class is covered (except those the mode cannot encode), several forms where there are several.
    const covered = new Set(report.sites.map((s) => s.class));
    for (const c of SENSITIVE_CLASSES) {
      if (absent.includes(c.id)) expect(covered.has(c.name)).toBe(false);
      else expect(covered.has(c.name)).toBe(true);
    }
    expect(report.sites.length).toBeGreaterThan(covered.size + 20);
  });

  test('the text listing shows the same instructions as objdump', () => {
    const obj = assembleFixture(name, mode);
    const r = cli(['decode', obj, '--sensitive']);
    expect(r.status).toBe(0);
    const objdump = execFileSync('objdump', ['-d', '-w', obj]).toString();
    const ref = new Map<number, string>();
    for (const m of objdump.matchAll(/^\s*([0-9a-f]+):\t[0-9a-f ]+\t(.*)$/gm)) ref.set(parseInt(m[1]!, 16), m[2]!.replace(/\s+#.*$/, '').replace(/\s+/g, ' ').trim());
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(labels(name).sensitive.size);
    for (const line of lines) {
      const m = /^([0-9a-f]+) <[^>]+>: (.*)\t\[[a-z0-9-]+\]$/.exec(line);
      expect(m).not.toBeNull();
      expect(m![2]!.replace(/\s+/g, ' ').trim()).toBe(ref.get(parseInt(m![1]!, 16)));
    }
  });
});

describe('previrt decode on bad input', () => {
  const expectUsageError = (args: string[], pattern: RegExp) => {
    const r = cli(args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^previrt: /);
    expect(lines[0]).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  test('not an ELF file', () => {
    const f = join(dir, 'text.txt');
    writeFileSync(f, 'hello, world\n');
    expectUsageError(['decode', f], /text\.txt: not an ELF file/);
  });

  test('a truncated ELF file', () => {
    const obj = assembleFixture('sensitive-i386', 32);
    const f = join(dir, 'truncated.o');
    writeFileSync(f, readFileSync(obj).subarray(0, 200));
    expectUsageError(['decode', f], /truncated\.o: section header table .*runs past the end of the file/);
    const g = join(dir, 'header-only.o');
    writeFileSync(g, readFileSync(obj).subarray(0, 30));
    expectUsageError(['decode', g], /header-only\.o: ELF32 header .*runs past the end of the file \(30 bytes\)/);
  });

  test('a section pointing past the end of the file', () => {
    const obj = assembleFixture('sensitive-i386', 32);
    const bytes = new Uint8Array(readFileSync(obj));
    const dv = new DataView(bytes.buffer);
    const shoff = dv.getUint32(0x20, true);
    // Section 1 (.text): move its offset far beyond the end.
    dv.setUint32(shoff + 40 + 16, bytes.length + 0x1000, true);
    const f = join(dir, 'badsection.o');
    writeFileSync(f, bytes);
    expectUsageError(['decode', f], /badsection\.o: section \[1\] .*runs past the end of the file/);
  });

  test('a directory, a missing file, a non-x86 ELF', () => {
    const d = join(dir, 'adir');
    mkdirSync(d, { recursive: true });
    expectUsageError(['decode', d], /adir: is a directory/);
    expectUsageError(['decode', join(dir, 'missing.o')], /missing\.o: no such file/);
    const obj = assembleFixture('sensitive-i386', 32);
    const bytes = new Uint8Array(readFileSync(obj));
    bytes[18] = 40; // EM_ARM
    const f = join(dir, 'arm.o');
    writeFileSync(f, bytes);
    expectUsageError(['decode', f], /arm\.o: not an x86 ELF file \(machine 40/);
  });
});
