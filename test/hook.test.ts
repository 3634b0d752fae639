// The build hook end to end, against the real toolchain: `previrt cc gcc` (native launcher, as shim,
// server) and `previrt as` must give exactly what the manual pipeline gives (gcc -S, previrt rewrite,
// GNU as), be invisible where nothing is sensitive, keep GNU as's diagnostics and exit codes, and
// work under make -j2 and gcc -pipe. Requires the TypeScript build (npm test runs tsc -b first).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterburnRecords, hookEnv, stopAfterburnServers } from './helpers/hook.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = path.join(repo, 'packages/cli/bin/previrt.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'previrt-hook-test-'));
const cache = path.join(work, 'cache');
const env = hookEnv(cache, 30);

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? work, env, input: opts.input, encoding: 'latin1' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function previrt(args: string[], opts: { cwd?: string; input?: string } = {}) {
  return run(process.execPath, [cli, ...args], opts);
}
function write(name: string, text: string): string {
  const file = path.join(work, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}
const read = (name: string) => fs.readFileSync(path.join(work, name));
const recordCount = (obj: string, elfClass: 32 | 64) =>
  afterburnRecords(path.join(work, obj), elfClass, path.join(work, `${path.basename(obj)}.afterburn.bin`)).length;

const SENSITIVE_C = `
static inline void outb(unsigned short port, unsigned char v) { __asm__ volatile("outb %0,%1" : : "a"(v), "Nd"(port)); }
void irq_off(void) { __asm__ volatile("cli" ::: "memory"); }
void irq_on(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
void putc_serial(char c) { outb(0x3f8, (unsigned char)c); }
unsigned long read_cr3(void) { unsigned long v; __asm__ volatile("mov %%cr3,%0" : "=r"(v)); return v; }
`;
const PLAIN_C = `
#include <stdarg.h>
struct point { int x, y; };
static const char *names[] = { "a;b", "c#d", "/* not a comment */", "'q'" };
int sum(int n, ...) { va_list ap; int s = 0; va_start(ap, n); while (n--) s += va_arg(ap, int); va_end(ap); return s; }
int pick(int k) { switch (k) { case 0: return 3; case 1: return 7; case 2: return 11; case 3: return 13; case 4: return 17; default: return names[k & 3][0]; } }
double scale(struct point p, double f) { return (p.x * f) + (p.y / f); }
int pause_loop(int n) { while (n-- > 0) __asm__ volatile("pause"); return n; }
`;

let launcher = '';
beforeAll(() => {
  const r = previrt(['cc', '--print-bin-dir']);
  expect(r.code).toBe(0);
  launcher = path.join(r.stdout.trim(), 'previrt');
  write('k.c', SENSITIVE_C);
  write('p.c', PLAIN_C);
});

afterAll(() => {
  // Stop the server this test started (by its pid), then remove the work directory.
  stopAfterburnServers(cache);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('previrt cc / previrt as', () => {
  test('the native launcher and shim were built', () => {
    expect(fs.existsSync(launcher)).toBe(true);
    const shim = previrt(['cc', '--print-shim-dir']).stdout.trim();
    expect(fs.readFileSync(path.join(shim, 'as')).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  });

  test.each([32, 64] as const)('hooked gcc -m%i equals gcc -S + previrt rewrite + as', (bits) => {
    expect(run(launcher, ['cc', 'gcc', `-m${bits}`, '-O2', '-c', 'k.c', '-o', `k${bits}.o`]).code).toBe(0);
    expect(run('gcc', [`-m${bits}`, '-O2', '-S', 'k.c', '-o', `k${bits}.s`]).code).toBe(0);
    expect(previrt(['rewrite', `k${bits}.s`, '-o', `k${bits}.pv.s`, `--${bits}`, '-q']).code).toBe(0);
    expect(run('as', [`--${bits}`, `k${bits}.pv.s`, '-o', `k${bits}.ref.o`]).code).toBe(0);
    expect(read(`k${bits}.o`).equals(read(`k${bits}.ref.o`))).toBe(true);
    expect(recordCount(`k${bits}.o`, bits)).toBe(5);
  });

  test('the Node path (previrt cc through the CLI) gives the same object', () => {
    expect(previrt(['cc', 'gcc', '-m32', '-O2', '-c', 'k.c', '-o', 'k32.node.o']).code).toBe(0);
    expect(read('k32.node.o').equals(read('k32.o'))).toBe(true);
  });

  test('gcc -pipe (assembly on standard input) gives the same object', () => {
    expect(run(launcher, ['cc', 'gcc', '-m32', '-O2', '-pipe', '-c', 'k.c', '-o', 'k32.pipe.o']).code).toBe(0);
    expect(read('k32.pipe.o').equals(read('k32.o'))).toBe(true);
  });

  test.each([['-O2'], ['-O0', '-g'], ['-O2', '-g', '-fPIC'], ['-Os', '-pipe']])('nothing sensitive: byte-identical to plain gcc %s', (...flags) => {
    for (const bits of [32, 64]) {
      const tag = `${bits}${flags.join('')}`;
      expect(run(launcher, ['cc', 'gcc', `-m${bits}`, ...flags, '-c', 'p.c', '-o', `p${tag}.hook.o`]).code).toBe(0);
      expect(run('gcc', [`-m${bits}`, ...flags, '-c', 'p.c', '-o', `p${tag}.o`]).code).toBe(0);
      expect(read(`p${tag}.hook.o`).equals(read(`p${tag}.o`))).toBe(true);
    }
  });

  test('-Wa,--version prints the real GNU as banner', () => {
    const hooked = run(launcher, ['cc', 'gcc', '-Wa,--version', '-c', '-x', 'assembler', '/dev/null', '-o', '/dev/null']);
    const plain = run('gcc', ['-Wa,--version', '-c', '-x', 'assembler', '/dev/null', '-o', '/dev/null']);
    expect(hooked.code).toBe(0);
    expect(hooked.stdout).toBe(plain.stdout);
    expect(hooked.stdout).toMatch(/^GNU assembler/);
  });

  test('the real assembler\'s diagnostics and exit code, with the original file name and line', () => {
    write('bad.s', '\t.text\n\tcli\n\tmovl %eax, %ebx ; sti\n\tbogus %eax\n\thlt\n\tmovl $1\n');
    fs.writeFileSync(path.join(work, 'bad.o'), 'stale');
    const hooked = previrt(['as', '--32', 'bad.s', '-o', 'bad.o']);
    const plain = run('as', ['--32', 'bad.s', '-o', 'bad.plain.o']);
    expect(plain.code).not.toBe(0);
    expect(hooked.code).toBe(plain.code);
    expect(hooked.stderr).toBe(plain.stderr);
    expect(hooked.stderr).toContain('bad.s:4: Error');
    expect(fs.existsSync(path.join(work, 'bad.o'))).toBe(false);
    const viaGcc = run(launcher, ['cc', 'gcc', '-m32', '-c', 'bad.s', '-o', 'bad.gcc.o']);
    expect(viaGcc.code).not.toBe(0);
    expect(viaGcc.stderr).toBe(run('gcc', ['-m32', '-c', 'bad.s', '-o', 'bad.gcc.plain.o']).stderr);
  });

  test('several inputs, -o attached, .include and .incbin found as GNU as finds them, --keep-temps', () => {
    write('multi/a.s', '\t.text\na:\tcli\n\t.include "inc/b.inc"\n\t.incbin "data/blob.bin"\n');
    write('multi/inc/b.inc', 'b:\tsti\n\tinvlpg (%eax)\n');
    write('multi/data/blob.bin', 'BLOB');
    write('multi/c.s', '\t.text\nc:\thlt\n');
    const cwd = path.join(work, 'multi');
    expect(previrt(['as', '--32', 'a.s', 'c.s', '-oac.o', '--keep-temps'], { cwd }).code).toBe(0);
    expect(recordCount('multi/ac.o', 32)).toBe(4);
    expect(fs.readFileSync(path.join(cwd, 'ac.previrt.0.s'), 'latin1')).toMatch(/^# 1 "a.s"\n/);
    execFileSync('objcopy', ['-O', 'binary', '--only-section=.text', path.join(cwd, 'ac.o'), path.join(cwd, 'text.bin')]);
    expect(fs.readFileSync(path.join(cwd, 'text.bin'), 'latin1')).toContain('BLOB');
    // The include is searched through -I, as GNU as does.
    write('multi/d.s', '\t.include "b.inc"\n');
    expect(previrt(['as', '--32', '-I', 'inc', 'd.s', '-o', 'd.o'], { cwd }).code).toBe(0);
    expect(recordCount('multi/d.o', 32)).toBe(2);
  });

  test('make -j2 with CC="previrt cc gcc": the same objects as a serial build', () => {
    const srcs = ['k', 'p', 'k2', 'p2', 'k3', 'p3'];
    for (const s of srcs) write(`mk/${s}.c`, s.startsWith('k') ? SENSITIVE_C : PLAIN_C);
    write('mk/entry.S', '#define IRQ_OFF cli\n\t.text\n\t.globl entry\nentry:\tIRQ_OFF\n\tlidt idt\n\tret\nidt:\t.word 0\n');
    write('mk/Makefile', `OBJS = ${srcs.map((s) => `${s}.o`).join(' ')} entry.o\nall: $(OBJS)\n%.o: %.c\n\t$(CC) -m32 -O2 -c $< -o $@\n%.o: %.S\n\t$(CC) -m32 -c $< -o $@\nclean:\n\trm -f *.o\n`);
    const cwd = path.join(work, 'mk');
    const cc = `CC=${launcher} cc gcc`;
    expect(run('make', ['-s', '-j2', cc], { cwd }).code).toBe(0);
    const parallel = new Map(fs.readdirSync(cwd).filter((f) => f.endsWith('.o')).map((f) => [f, fs.readFileSync(path.join(cwd, f))]));
    expect(parallel.size).toBe(7);
    expect(run('make', ['-s', 'clean'], { cwd }).code).toBe(0);
    expect(run('make', ['-s', '-j1', cc], { cwd }).code).toBe(0);
    for (const [f, bytes] of parallel) expect({ f, same: fs.readFileSync(path.join(cwd, f)).equals(bytes) }).toEqual({ f, same: true });
    expect(recordCount('mk/entry.o', 32)).toBe(2);
    expect(recordCount('mk/k2.o', 32)).toBe(5);
  });

  test('position-independent and vDSO compiles are assembled unchanged', () => {
    expect(run(launcher, ['cc', 'gcc', '-m32', '-O2', '-fPIE', '-c', 'k.c', '-o', 'k.pie.o']).code).toBe(0);
    expect(run('gcc', ['-m32', '-O2', '-fPIE', '-c', 'k.c', '-o', 'k.pie.plain.o']).code).toBe(0);
    expect(read('k.pie.o').equals(read('k.pie.plain.o'))).toBe(true);
    expect(run(launcher, ['cc', 'gcc', '-m32', '-O2', '-DBUILD_VDSO', '-c', 'k.c', '-o', 'k.vdso.o']).code).toBe(0);
    expect(recordCount('k.vdso.o', 32)).toBe(0);
    expect(run(launcher, ['cc', 'gcc', '-m32', '-O2', '-fPIE', '-fno-PIE', '-c', 'k.c', '-o', 'k.nopie.o']).code).toBe(0);
    expect(recordCount('k.nopie.o', 32)).toBe(5);
  });

  test('without a usable socket path the shims are shell scripts running Node, with the same result', () => {
    const longCache = path.join(work, 'c'.repeat(120));
    const slow = { ...env, PREVIRT_CACHE_DIR: longCache };
    const dir = spawnSync(process.execPath, [cli, 'cc', '--print-shim-dir'], { env: slow, encoding: 'utf8' }).stdout.trim();
    expect(fs.readFileSync(path.join(dir, 'as'), 'latin1')).toMatch(/^#!\/bin\/sh\n/);
    const r = spawnSync(process.execPath, [cli, 'cc', 'gcc', '-m32', '-O2', '-c', 'k.c', '-o', 'k32.script.o'], { cwd: work, env: slow, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(read('k32.script.o').equals(read('k32.o'))).toBe(true);
  });

  test('previrt rewrite reads stdin and reports sites as JSON', () => {
    const r = previrt(['rewrite', '-', '--32', '-o', 'stdin.pv.s', '--json'], { input: '\tcli\n\tnop\n\tout %al,$0x80\n' });
    expect(r.code).toBe(0);
    const sites = JSON.parse(r.stdout).sites;
    expect(sites.map((s: { className: string; line: number }) => [s.className, s.line])).toEqual([['cli', 1], ['out', 3]]);
  });
});
