// Assembler text in the scanner: statements of inline-asm templates and .S files, and instructions
// hidden in .byte/.word/.long data. The reference is GNU as and objdump: each instruction is assembled
// by `as`, disassembled by `objdump`, and its bytes written back as data must be found by the scanner
// as exactly the class that objdump's text has in the catalogue (and nothing for the others).
import { classifyAtt, splitAttOperands, splitAttStatement, type SensitiveClass } from '@previrt/isa';
import { evalConstExpr, scanAsmText, unescapeCString } from '../src/asm.js';
import { mapped } from '../src/asm.js';
import { assembleAndDisassemble } from './support.js';

const SENSITIVE_32 = [
  'cli', 'sti', 'hlt', 'pushfl', 'popfl', 'pushfw', 'movl %eax,%cr0', 'movl %cr3,%ebx', 'movl %eax,%cr4', 'movl %eax,%db7',
  'movl %db6,%ecx', 'movw %ax,%ds', 'movl %ss,%eax', 'pushl %fs', 'popl %gs', 'pushl %cs', 'popl %es',
  'lgdtl (%eax)', 'sgdtl (%ebx)', 'lidtl 8(%esi)', 'sidtl 4(%ebx)', 'lldt %ax', 'sldt %eax', 'ltr %ax', 'str %eax',
  'lar %eax,%ebx', 'lsl %eax,%ebx', 'verr %ax', 'verw (%eax)', 'arpl %ax,%bx', 'ljmp $0x10,$0x1000', 'ljmp *(%eax)',
  'lcall $0x8,$0x2000', 'lcall *(%eax)', 'lret', 'lret $8', 'iret', 'iretw', 'lds (%eax),%ebx', 'les (%eax),%ebx',
  'lfs (%eax),%ebx', 'lgs (%eax),%ebx', 'lss (%eax),%esp', 'clts', 'lmsw %ax', 'smsw %eax', 'rdmsr', 'wrmsr', 'rdtsc',
  'rdtscp', 'rdpmc', 'cpuid', 'invd', 'wbinvd', 'invlpg (%eax)', 'inb $0x60,%al', 'inw (%dx),%ax', 'inl (%dx),%eax',
  'outb %al,$0x80', 'outw %ax,(%dx)', 'outl %eax,(%dx)', 'insb (%dx),%es:(%edi)', 'insl (%dx),%es:(%edi)',
  'rep outsl %ds:(%esi),(%dx)', 'outsb %ds:(%esi),(%dx)', 'int $0x80', 'int3', 'into', 'sysenter', 'sysexit', 'ud2',
];
const HARMLESS_32 = [
  'movl %eax,%ebx', 'addl $1,(%eax)', 'nop', 'leal 4(%esp),%eax', 'pushl %eax', 'popl %ecx', 'ret', 'call *%eax',
  'movl %ds:(%eax),%ebx', 'movl %fs:4,%eax', 'xgetbv', 'pause', 'lock incl (%eax)', 'cmpxchg8b (%esi)', 'stac', 'clac',
  'mfence', 'rep movsb', 'jmp .', 'xchgl %eax,(%ebx)', 'bswap %eax', 'monitor', 'mwait',
];
const SENSITIVE_64 = ['swapgs', 'syscall', 'sysretq', 'movq %rax,%cr3', 'movq %cr2,%rax', 'pushfq', 'popfq', 'iretq', 'cli', 'rdmsr'];
const HARMLESS_64 = ['movq %rax,%rbx', 'addq $1,(%rax)', 'leaq 8(%rsp),%rax', 'syscall_not_a_label: nop', 'pushq %rax'];

/** The catalogue class of objdump's text for an instruction. */
function classOfObjdumpText(text: string): SensitiveClass | null {
  const s = splitAttStatement(text);
  if (!s) return null;
  return classifyAtt(s.mnemonic, splitAttOperands(s.rest));
}

function asByteDirective(bytes: number[]): string {
  return `.byte ${bytes.map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ')}`;
}

describe.each([
  [32, SENSITIVE_32, HARMLESS_32],
  [64, SENSITIVE_64, HARMLESS_64],
] as const)('%i-bit code assembled by GNU as', (bits, sensitive, harmless) => {
  const insns = assembleAndDisassemble([...sensitive, ...harmless], bits);

  test('objdump sees one instruction per statement, and the catalogue classes them as expected', () => {
    expect(insns).toHaveLength(sensitive.length + harmless.length);
    const classes = insns.map((i) => classOfObjdumpText(i.text));
    expect(classes.slice(0, sensitive.length).every((c) => c !== null)).toBe(true);
    expect(classes.slice(sensitive.length).every((c) => c === null)).toBe(true);
  });

  test('each instruction written as .byte is found hidden, with the class of objdump\'s text', () => {
    for (const insn of insns) {
      const items = scanAsmText(mapped(asByteDirective(insn.bytes), 0), { mode: bits, instructions: true });
      const hidden = items.filter((i) => i.kind === 'hidden').map((i) => (i.kind === 'hidden' ? i.cls.name : ''));
      const expected = classOfObjdumpText(insn.text);
      expect({ text: insn.text, hidden }).toEqual({ text: insn.text, hidden: expected ? [expected.name] : [] });
    }
  });

  test('all of them as one run of bytes are found in order, each at its own byte offset', () => {
    const all = insns.flatMap((i) => i.bytes);
    const items = scanAsmText(mapped(asByteDirective(all), 100), { mode: bits, instructions: false });
    const expected: string[] = [];
    let off = 0;
    for (const i of insns) {
      const c = classOfObjdumpText(i.text);
      if (c) expected.push(`${off}:${c.name}`);
      off += i.bytes.length;
    }
    expect(items.map((i) => (i.kind === 'hidden' ? `${i.offset}:${i.cls.name}` : i.kind))).toEqual(expected);
    expect(items.every((i) => i.start === 100)).toBe(true);
  });

  test('each instruction written as a mnemonic in a template is reported as text with the same class', () => {
    sensitive.forEach((statement, k) => {
      const items = scanAsmText(mapped(`1: ${statement} # comment`, 0), { mode: bits, instructions: true });
      expect(items.map((i) => (i.kind === 'instruction' ? i.cls.name : i.kind))).toEqual([classOfObjdumpText(insns[k]!.text)!.name]);
    });
  });
});

test('.word and .long are little-endian, symbolic bytes stop decoding, and data sections are not code', () => {
  const kinds = (text: string) => scanAsmText(mapped(text, 0), { mode: 32, instructions: true })
    .map((i) => (i.kind === 'hidden' ? `${i.cls.name}@${i.offset}` : i.kind === 'instruction' ? `text:${i.cls.name}` : `marker:${i.off}`));
  expect(kinds('.word 0x300f')).toEqual(['wrmsr@0']);
  expect(kinds('.long 0x90fb90fa')).toEqual(['cli@0', 'sti@2']);
  expect(kinds('.byte 0x0f, sym')).toEqual([]);
  expect(kinds('.byte 0x0f, (0x20 | 0x02), 0xc0 + 0')).toEqual(['mov-to-cr@0']); // 0f 22 c0: mov %eax,%cr0
  expect(kinds('.pushsection .data\n.byte 0xfa\n.popsection\n.byte 0xfb')).toEqual(['sti@0']);
  expect(kinds('.section .rodata, "a"\n.byte 0xfa\n.previous\n.byte 0xf4')).toEqual(['hlt@0']);
  expect(kinds('.pushsection .text.unlikely\n.byte 0xfa\n.popsection')).toEqual(['cli@0']);
  expect(kinds('.code16\n.byte 0x66, 0x9d')).toEqual(['popf@0']);
  expect(kinds('cli; .byte 0xfb; # previrt:off\nhlt\n# previrt:on')).toEqual(['text:cli', 'sti@0', 'marker:true', 'text:hlt', 'marker:false']);
  expect(kinds('.set .Lprevirt_off, 1\n rep; outsb\n.set .Lprevirt_off, 0')).toEqual(['marker:true', 'text:outs', 'marker:false']);
  expect(kinds('mov{l} %eax, %cr0\n\tmov%z0 %1, %cr4')).toEqual(['text:mov-to-cr', 'text:mov-to-cr']);
  expect(kinds('/* cli */ nop /* sti */; lock; addl $1, (%eax)')).toEqual([]);
});

test('C string literals unescape with a source offset for every character', () => {
  const lit = '"a\\tb\\n\\\\c\\x41\\101\\"z"';
  const t = unescapeCString(lit, 10);
  expect(t.text).toBe('a\tb\n\\cAA"z');
  expect(t.map.slice(0, t.text.length)).toEqual([11, 12, 14, 15, 17, 19, 20, 24, 28, 30]);
  expect(t.map[t.text.length]).toBe(10 + lit.length);
});

test('constant expressions in data directives', () => {
  expect(evalConstExpr('0x10 | 0x0f')).toBe(0x1f);
  expect(evalConstExpr('(1 << 4) + 2 * 3')).toBe(22);
  expect(evalConstExpr('-1')).toBe(-1);
  expect(evalConstExpr("'A'")).toBe(65);
  expect(evalConstExpr('017')).toBe(15);
  expect(evalConstExpr('0b101')).toBe(5);
  expect(evalConstExpr('reg')).toBeNull();
  expect(evalConstExpr('1 +')).toBeNull();
});
