// The candidate-line scan (one regular expression over the input, packages/afterburner/src/candidates.ts)
// is only a shortcut: with it the rewriter must give exactly what it gives when it looks at every line
// in JavaScript (`lineByLine`). Checked on the tricky-assembly corpus, on gcc -S output of the C
// corpus and of the test kernel, and on generated lines that put every catalogue mnemonic (and prefix
// and directive the rewriter acts on) in the places a line can hold it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ATT_PREFIXES, attMnemonicGroups } from '@previrt/isa';
import { rewrite, type RewriteOptions } from '@previrt/afterburner';
import { tmpFile } from './binutils.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

function same(text: string, options: RewriteOptions = {}): void {
  for (const elfClass of [32, 64] as const) {
    const scanned = rewrite(text, { ...options, elfClass });
    const walked = rewrite(text, { ...options, elfClass, lineByLine: true });
    expect(scanned).toEqual(walked);
  }
}

function gccS(file: string, args: string[]): string {
  const out = tmpFile(`${path.basename(file)}.s`);
  const r = spawnSync('gcc', [...args, '-S', '-o', out, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc -S ${file}: ${r.stderr}`);
  return fs.readFileSync(out, 'latin1');
}

describe('the candidate-line scan changes nothing', () => {
  test('tricky-assembly corpus', () => {
    const dir = path.join(repo, 'fixtures/asm');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.s'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) same(fs.readFileSync(path.join(dir, f), 'latin1'), { fileName: f });
  });

  test('gcc -S of the C corpus and of the test kernel', () => {
    const cDir = path.join(repo, 'fixtures/asm/c');
    let sites = 0;
    for (const f of fs.readdirSync(cDir).filter((x) => x.endsWith('.c'))) {
      for (const flags of [['-m32', '-O2'], ['-m64', '-Os', '-fPIC']]) same(gccS(path.join(cDir, f), flags));
    }
    const kernel = path.join(repo, 'fixtures/kernel');
    const header = tmpFile('include');
    fs.mkdirSync(path.join(header, 'previrt'), { recursive: true });
    // The kernel's C includes previrt/annotate.h; its macros' asm is what matters here, and the
    // linker package generates it.
    const annotate = spawnSync(process.execPath, [path.join(repo, 'packages/cli/bin/previrt.js'), 'header', '-o', header], { encoding: 'utf8' });
    expect(annotate.status).toBe(0);
    for (const f of fs.readdirSync(path.join(kernel, 'src')).filter((x) => x.endsWith('.c'))) {
      const text = gccS(path.join(kernel, 'src', f), ['-m32', '-O2', '-march=i686', '-ffreestanding', '-fno-pie',
        '-I', path.join(kernel, 'include'), '-I', header, '-DCONFIG_PARAVIRT=0']);
      sites += rewrite(text, { elfClass: 32 }).sites.length;
      same(text, { fileName: f });
    }
    expect(sites).toBeGreaterThan(100);
  });

  test('every mnemonic, prefix and directive in every place a line can hold it', () => {
    const groups = attMnemonicGroups();
    const words = [...groups.unconditional, ...groups.withSpecialRegister, ...groups.withImmediates, ...ATT_PREFIXES,
      '.set .Lprevirt_off,', '.code16', '.code64', '.code32', '.macro m a', '.endm', '.rept 2', '.endr', '.end', 'nop', 'movl', 'm'];
    const operands = ['', ' %es', ' %eax, %ds', ' %cr4, %eax', ' %esi, %eax', ' $8, $1f', ' *%eax', ' (%esp)', ' %db7,%ebx', ' \\reg', ' 1'];
    const lines: string[] = [];
    for (const w of words) {
      for (const op of operands) {
        const stmt = `${w}${op}`;
        lines.push(`\t${stmt}`, `${stmt}`, `lab: ${stmt}`, `1:\t2 :${stmt}`, `\t${stmt.toUpperCase()}`, ` \f${stmt}`,
          `\t.byte 1 ; ${stmt}`, `\t${stmt} # ${w}`, `/* ${stmt} */ ${stmt}`, `\t# previrt:off`, `\t${stmt}`, `\t# previrt:on`,
          `\t.ascii "${stmt};"`, `x = ${stmt}`, `\t${stmt}\r`, `/${stmt}`,
          // A C comment opened after an ordinary statement hides the next line.
          `\tnop /* ${w}`, `\t${stmt}`, `*/\t${stmt}`);
      }
    }
    // In chunks, so that one .macro or .end does not hide the rest; also as one input.
    for (let i = 0; i < lines.length; i += 400) same(`\t.text\n${lines.slice(i, i + 400).join('\n')}\n`);
    same(lines.join('\n'));
    expect(lines.length).toBeGreaterThan(20000);
  });
});
