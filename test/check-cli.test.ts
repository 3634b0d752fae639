// `previrt check`, `previrt inspect`, `previrt header` and `previrt ldscript` as a user runs them:
// output formats, exit codes 0/1/2, one-line errors on unusable input.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCheckFixture } from '../packages/linker/test/check-fixture.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const previrt = join(root, 'packages/cli/bin/previrt.js');
let dir: string;

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'check-cli-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], cwd = dir) {
  return spawnSync(process.execPath, [previrt, ...args], { encoding: 'utf8', cwd, maxBuffer: 1 << 26 });
}

describe('previrt check', () => {
  test('a clean image: exit 0, a summary line, JSON with the issue\'s fields', () => {
    const elf = buildCheckFixture(dir, 0);
    const r = cli(['check', elf]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${elf}: 9 sites, 9 covered, 0 uncovered, 0 bad records \\(10 records`))]);
    const j = cli(['check', elf, '--json']);
    expect(j.status).toBe(0);
    const report = JSON.parse(j.stdout);
    expect(report).toMatchObject({ file: elf, sites: 9, covered: 9, uncovered: [], badRecords: [] });
  });

  test('the plain image: exit 1, one line per uncovered instruction, JSON entries with address, mnemonic, kind, symbol, offset', () => {
    const elf = buildCheckFixture(dir, 'plain');
    const r = cli(['check', elf, '--quiet']);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n');
    // Every sensitive instruction of the fixture but rdtsc (every back end keeps it: no site needed).
    expect(lines).toHaveLength(8);
    for (const l of lines) expect(l).toMatch(new RegExp(`^${elf}: 0x[0-9a-f]+ <(_start|work)(\\+0x[0-9a-f]+)?>( \\S+:\\d+)?: \\S+ \\([a-z-]+\\) is not covered by a record$`));
    const report = JSON.parse(cli(['check', elf, '--json']).stdout);
    expect(report.uncovered).toHaveLength(8);
    for (const u of report.uncovered) {
      expect(Object.keys(u)).toEqual(expect.arrayContaining(['address', 'kind', 'mnemonic', 'offset', 'symbol']));
      expect(typeof u.address).toBe('number');
    }
    const excluded = cli(['check', elf, '--exclude-symbol', '_start', '--exclude-symbol', 'work']);
    expect(excluded.status).toBe(0);
    expect(excluded.stdout).toMatch(/0 sites, 0 covered, 0 uncovered, 0 bad records, 8 excluded/);
  });

  test.each([1, 4, 9])('broken variant %d: exit 1 and the problem on a line', (variant) => {
    const elf = buildCheckFixture(dir, variant);
    const r = cli(['check', elf, '--json']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.uncovered.length + report.badRecords.length).toBeGreaterThan(0);
    for (const b of report.badRecords) expect(Object.keys(b)).toEqual(expect.arrayContaining(['address', 'problem']));
  });

  test('unusable input: exit 2 and one line naming the file', () => {
    writeFileSync(join(dir, 'notelf'), 'hello\n');
    writeFileSync(join(dir, 'truncated'), readFileSync(buildCheckFixture(dir, 0)).subarray(0, 40));
    for (const [file, message] of [
      ['missing.elf', /missing\.elf: cannot read \(no such file\)$/],
      ['notelf', /notelf: not an ELF file: bad magic/],
      ['truncated', /truncated: ELF32 header .* runs past the end of the file/],
      ['.', /cannot read \(is a directory\)/],
    ] as const) {
      const r = cli(['check', file]);
      expect({ file, status: r.status }).toEqual({ file, status: 2 });
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^previrt: /);
      expect(r.stderr.trim()).toMatch(message);
    }
    const arm = join(dir, 'arm.o');
    const obj = readFileSync(buildCheckFixture(dir, 0));
    const b = Buffer.from(obj);
    b.writeUInt16LE(40, 18); // EM_ARM
    writeFileSync(arm, b);
    const r = cli(['check', arm]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/machine 40 is not x86/);
  });
});

describe('previrt inspect', () => {
  test('lists every record with kind and lengths, and a count per kind', () => {
    const elf = buildCheckFixture(dir, 0);
    const r = cli(['inspect', elf]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^0x[0-9a-f]+ <_start>  cli  insn 1  site 7  cli$/m);
    expect(r.stdout).toMatch(new RegExp(`^${elf}: 10 records \\(\\.afterburn format v1, ELF32\\)$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}pte-set\s+1$/m);
    const j = JSON.parse(cli(['inspect', elf, '--json']).stdout);
    expect(j.records).toHaveLength(10);
    expect(j.byKind.sti).toBe(1);
    // The same records as readelf's hex dump of the table.
    const dump = execFileSync('readelf', ['-x', '.afterburn', elf], { encoding: 'utf8' });
    const words = [...dump.matchAll(/^\s+0x[0-9a-f]+ ((?:[0-9a-f]{8} ?)+)/gm)].flatMap((m) => m[1]!.trim().split(' '));
    const addresses = words.filter((_, i) => i % 2 === 0).map((w) => Buffer.from(w, 'hex').readUInt32LE(0));
    expect(j.records.map((x: { address: number }) => x.address).sort()).toEqual(addresses.sort());
  });
});

describe('previrt header and ldscript', () => {
  test('header -o writes <dir>/previrt/annotate.h atomically; - prints it', () => {
    const r = cli(['header', '-o', join(dir, 'inc')]);
    expect(r.status).toBe(0);
    const text = readFileSync(join(dir, 'inc/previrt/annotate.h'), 'utf8');
    expect(text).toMatch(/#define PV_PTE_SET\(/);
    expect(cli(['header', '-o', '-']).stdout).toBe(text);
    expect(cli(['header', '--stdout']).stdout).toBe(text);
    writeFileSync(join(dir, 'plainfile'), '');
    const bad = cli(['header', '-o', join(dir, 'plainfile')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/plainfile\/previrt: cannot create directory/);
  });

  test('ldscript prints the fragment for each architecture and rejects others', () => {
    expect(cli(['ldscript']).stdout).toMatch(/\.afterburn : ALIGN\(4\)/);
    expect(cli(['ldscript', '--arch', 'x86_64']).stdout).toMatch(/\.afterburn : ALIGN\(8\)/);
    const out = join(dir, 'frag.ld');
    expect(cli(['ldscript', '-o', out]).status).toBe(0);
    expect(existsSync(out)).toBe(true);
    const bad = cli(['ldscript', '--arch', 'arm']);
    expect(bad.status).toBe(2);
  });
});
