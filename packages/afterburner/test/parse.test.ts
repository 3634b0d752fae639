// Parsing details of the rewriter and the drop-in assembler's command line; the behaviour that
// matters (what GNU as makes of the output) is checked against binutils in corpus.test.ts.
import { lexLine, parseGasArgs, rewrite } from '@previrt/afterburner';
import { assemble, readRecords } from './binutils.js';

describe('GNU as command lines', () => {
  test('gcc\'s assembler call: flags, -o, one input', () => {
    const p = parseGasArgs(['--32', '-mtune=generic32', '--gdwarf-5', '-mrelax-relocations=no', '-o', 'x.o', '/tmp/cc1.s'], 64);
    expect(p).toMatchObject({ output: 'x.o', outputIndex: 5, elfClass: 32, informational: false, keepTemps: false });
    expect(p.inputIndexes.map((i) => p.args[i])).toEqual(['/tmp/cc1.s']);
  });

  test('stdin (gcc -pipe), attached -o, values of -I and --defsym are not inputs, --keep-temps is previrt\'s', () => {
    const p = parseGasArgs(['-I', 'inc', '--defsym', 'X=1', '-ofoo.o', '--keep-temps', '-', 'b.s'], 64);
    expect(p.inputIndexes.map((i) => p.args[i])).toEqual(['-', 'b.s']);
    expect(p).toMatchObject({ output: 'foo.o', outputAttached: true, keepTemps: true, elfClass: 64 });
    expect(p.args).not.toContain('--keep-temps');
  });

  test('--version anywhere makes the call informational; -MD names a dependency file', () => {
    expect(parseGasArgs(['--version'], 64).informational).toBe(true);
    expect(parseGasArgs(['--64', '-MD', 'x.d', 'a.s'], 64).dependencyFile).toBe('x.d');
  });
});

describe('lexing one line', () => {
  test('strings, character constants and comments hide ; and #', () => {
    const l = lexLine(`\t.ascii "a;b#c" ; movb $'#', %al # tail ; cli`, false);
    expect(l.statements.map((s) => s.code.slice(0, s.codeEnd - s.start).trim())).toEqual(['.ascii "a;b#c"', "movb $'#', %al"]);
    expect(l.comments).toEqual([' tail ; cli']);
  });

  test('a C comment may span lines', () => {
    const a = lexLine('cli /* open ; sti', false);
    expect(a.inBlockComment).toBe(true);
    expect(a.statements.map((s) => s.code.trim())).toEqual(['cli']);
    const b = lexLine('still comment */ hlt', true);
    expect(b.inBlockComment).toBe(false);
    expect(b.statements.map((s) => s.code.trim())).toEqual(['hlt']);
  });
});

describe('rewriting', () => {
  test('nothing sensitive: the very same string comes back', () => {
    const text = '\t.text\nf:\tmovl %eax, %ebx # cli\n\t.ascii "sti"\n\tret\n';
    const r = rewrite(text);
    expect(r.text).toBe(text);
    expect(r.sites).toEqual([]);
  });

  test('a prefix statement belongs to the site of the instruction after it', () => {
    const r = rewrite('\trep ; insb\n', { elfClass: 32 });
    expect(r.sites).toMatchObject([{ className: 'ins', column: 2, text: 'rep ; insb' }]);
    const { obj } = assemble(r.text, 32);
    expect(readRecords(obj, 32)).toMatchObject([{ offset: 0, insnLen: 2 }]);
  });

  test('an instruction longer than its site keeps its length as site_len (no negative padding)', () => {
    const r = rewrite('\tlgdtl %cs:0x12345678(,%eax,4)\n', { elfClass: 32 });
    const { obj, stderr } = assemble(r.text, 32);
    expect(stderr).toBe('');
    expect(readRecords(obj, 32)).toMatchObject([{ insnLen: 9, siteLen: 9 }]);
  });

  test('a sensitive instruction in Intel syntax is an error naming file and line; .att_syntax ends it', () => {
    const r = rewrite('\t.intel_syntax noprefix\n\tmov cr3, eax\n\tmov eax, ebx\n\t.att_syntax\n\tcli\n', { fileName: 'x.s' });
    expect(r.diagnostics).toMatchObject([{ file: 'x.s', line: 2, severity: 'error', rule: 'intel-syntax' }]);
    expect(r.sites.map((s) => s.line)).toEqual([5]);
  });

  test('nothing after .end is looked at', () => {
    expect(rewrite('\tcli\n\t.end\n\tsti\n').sites.map((s) => s.className)).toEqual(['cli']);
  });

  test('skipped instructions are reported: exclusion regions and int3', () => {
    const r = rewrite('\t.set .Lprevirt_off, 1\n\tcli\n\t.set .Lprevirt_off, 0\n\tint3\n\tsti\n');
    expect(r.skipped.map((s) => [s.className, s.reason])).toEqual([['cli', 'excluded'], ['int3', 'keep-layout']]);
    expect(r.sites.map((s) => s.className)).toEqual(['sti']);
  });
});

describe('annotated instructions and forms that need no site', () => {
  test('.set .Lprevirt_kind records the next popf as irq-restore with its own site size', () => {
    const src = '\t.text\n\tpushl %eax\n\t.set .Lprevirt_kind, 0x180\n\tpopf\n\tpushl %eax\n\tpopfl\n';
    const r = rewrite(src, { elfClass: 32 });
    expect(r.diagnostics).toEqual([]);
    expect(r.sites.map((s) => [s.kind, s.className])).toEqual([[0x180, 'irq-restore'], [4, 'popf']]);
    const { obj, stderr } = assemble(r.text, 32);
    expect(stderr).toBe('');
    // irq-restore's site is 7 bytes, popf's too; both records point at a one-byte popf.
    expect(readRecords(obj, 32).map((x) => [x.kind, x.insnLen, x.siteLen])).toEqual([[0x180, 1, 7], [4, 1, 7]]);
  });

  test('a kind marker before another instruction is an error naming both lines; an unknown kind is one too', () => {
    const r = rewrite('\t.set .Lprevirt_kind, 0x180\n\tcli\n', { elfClass: 32, fileName: 'k.s' });
    expect(r.diagnostics).toEqual([expect.objectContaining({ file: 'k.s', line: 2, severity: 'error', rule: 'annotation',
      message: expect.stringMatching(/irq-restore annotation on line 1 is for a popf instruction, but the next sensitive instruction is 'cli' \(cli\)/) })]);
    expect(r.sites.map((s) => s.className)).toEqual(['cli']);
    const u = rewrite('\t.set .Lprevirt_kind, 0x999\n\tpopf\n', { elfClass: 32, fileName: 'k.s' });
    expect(u.diagnostics).toEqual([expect.objectContaining({ line: 1, severity: 'error', rule: 'annotation' })]);
  });

  test('rdtsc, int $0x80 and push %ds get no site (every back end keeps them); push %cs and mov to %ss do', () => {
    const r = rewrite('\t.text\n\trdtsc\n\tint $0x80\n\tpush %ds\n\tmovw %ax, %es\n\tlfs (%eax), %ebx\n\tpush %cs\n\tmovw %ax, %ss\n\tlss (%eax), %esp\n', { elfClass: 32 });
    expect(r.sites.map((s) => s.text)).toEqual(['push %cs', 'movw %ax, %ss', 'lss (%eax), %esp']);
    expect(r.skipped.filter((s) => s.reason === 'kept-everywhere').map((s) => s.className))
      .toEqual(['rdtsc', 'int', 'push-segment', 'mov-to-segment', 'load-far-pointer']);
  });
});
