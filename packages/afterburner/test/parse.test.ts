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
