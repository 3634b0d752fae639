// The encoder against GNU as: every form the in-place VMM writes must be byte-identical to what the
// assembler produces for the same AT&T instruction.
import {
  encodeJmpRel32, encodeCallRel32, encodeNops, encodeMovMemImm, encodeMovMemReg, encodeMovRegMem,
  encodeAndMemImm, encodeOrMemImm, encodeBitMemImm, encodePushMem, encodePopMem, encodePushImm32,
  encodePushReg, encodePopReg, encodeCallMem, encodeJmpMem, decode, REG, type MemoryOperand,
} from '@previrt/isa';
import { assemble } from './support/gnu';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('encodeNops', () => {
  test('every length 1..40 is byte-identical to GNU as .nops, in 32- and 64-bit code', () => {
    const lengths = Array.from({ length: 40 }, (_, i) => i + 1);
    // One assembly per mode: the runs are separated by a marker byte.
    for (const mode of [64, 32] as const) {
      const src = lengths.map((n) => `.nops ${n}\n.byte 0xcc`).join('\n');
      const ref = assemble(mode === 32 ? `.arch i686\n${src}` : src, mode);
      let at = 0;
      for (const n of lengths) {
        const mine = encodeNops(n);
        if (mode === 64) expect(hex(mine)).toBe(hex(ref.subarray(at, at + n)));
        at += n;
        expect(ref[at]).toBe(0xcc);
        at++;
      }
    }
  });

  test('each NOP decodes as one nop instruction of the whole length (up to 11 bytes)', () => {
    for (let n = 1; n <= 11; n++) {
      const insn = decode(encodeNops(n), 0, 32);
      expect(insn.length).toBe(n);
      // objdump (and so the decoder) shows 66 90 as xchg %ax,%ax
      expect(`${insn.mnemonic} ${insn.operandText}`).toMatch(n === 2 ? /^xchg %ax,%ax$/ : /nop/);
    }
  });
});

describe('branches', () => {
  test('jmp/call rel32 forward, backward and to the next instruction match GNU as', () => {
    const src = ['.org 0x800', 'back: nop', '.org 0x1000', '{disp32} jmp fwd', '{disp32} call back',
      '{disp32} jmp next', 'next: {disp32} call fwd', '.org 0x1234', 'fwd: nop'].join('\n');
    const ref = assemble(src, 32);
    const mine = [encodeJmpRel32(0x1000, 0x1234), encodeCallRel32(0x1005, 0x800), encodeJmpRel32(0x100a, 0x100f), encodeCallRel32(0x100f, 0x1234)];
    expect(mine.map(hex).join('')).toBe(hex(ref.subarray(0x1000, 0x1014)));
    expect(decode(mine[0]!, 0, 32, 0x1000).target).toBe(0x1234);
    expect(decode(mine[1]!, 0, 32, 0x1005).target).toBe(0x800);
  });
});

describe('memory forms', () => {
  const mems: [MemoryOperand, string][] = [
    [{ disp: 0x12345678 }, '0x12345678'],
    [{ base: REG.eax }, '(%eax)'],
    [{ base: REG.ebp }, '(%ebp)'],
    [{ base: REG.esp, disp: 8 }, '8(%esp)'],
    [{ base: REG.ebx, disp: -4 }, '-4(%ebx)'],
    [{ base: REG.esi, disp: 0x1000 }, '0x1000(%esi)'],
    [{ base: REG.edx, index: REG.ecx, scale: 4, disp: 0x20 }, '0x20(%edx,%ecx,4)'],
    [{ index: REG.edi, scale: 8, disp: 0x4000 }, '0x4000(,%edi,8)'],
  ];
  const forms: [string, (m: MemoryOperand) => Uint8Array, (a: string) => string][] = [
    ['movb imm', (m) => encodeMovMemImm(1, m, 0), (a) => `movb $0,${a}`],
    ['movw imm', (m) => encodeMovMemImm(2, m, 0x1234), (a) => `movw $0x1234,${a}`],
    ['movl imm', (m) => encodeMovMemImm(4, m, -2), (a) => `movl $-2,${a}`],
    ['mov store', (m) => encodeMovMemReg(4, m, REG.ecx), (a) => `mov %ecx,${a}`],
    ['movb store', (m) => encodeMovMemReg(1, m, REG.edx), (a) => `mov %dl,${a}`],
    ['mov load', (m) => encodeMovRegMem(4, REG.eax, m), (a) => `mov ${a},%eax`],
    ['andl', (m) => encodeAndMemImm(4, m, ~0x200), (a) => `andl $${~0x200},${a}`],
    ['andb', (m) => encodeAndMemImm(1, m, 0xfe), (a) => `andb $0xfe,${a}`],
    ['orl small', (m) => encodeOrMemImm(4, m, 0x200), (a) => `orl $0x200,${a}`],
    ['orl imm8', (m) => encodeOrMemImm(4, m, 1), (a) => `orl $1,${a}`],
    ['lock orl', (m) => encodeOrMemImm(4, m, 1, 32, true), (a) => `lock orl $1,${a}`],
    ['bt', (m) => encodeBitMemImm('bt', m, 9), (a) => `btl $9,${a}`],
    ['lock bts', (m) => encodeBitMemImm('bts', m, 1, 32, true), (a) => `lock btsl $1,${a}`],
    ['lock btr', (m) => encodeBitMemImm('btr', m, 5, 32, true), (a) => `lock btrl $5,${a}`],
    ['btc', (m) => encodeBitMemImm('btc', m, 31), (a) => `btcl $31,${a}`],
    ['push', (m) => encodePushMem(m), (a) => `pushl ${a}`],
    ['pop', (m) => encodePopMem(m), (a) => `popl ${a}`],
    ['call', (m) => encodeCallMem(m), (a) => `call *${a}`],
    ['jmp', (m) => encodeJmpMem(m), (a) => `jmp *${a}`],
  ];

  test('every form with every addressing mode matches GNU as (32-bit)', () => {
    const mine: string[] = [];
    const src: string[] = [];
    for (const [, enc, att] of forms) for (const [m, a] of mems) { mine.push(hex(enc(m))); src.push(att(a), '.byte 0xcc'); }
    const ref = hex(assemble(src.join('\n'), 32));
    expect(mine.join('cc') + 'cc').toBe(ref);
  });

  test('absolute and register-based forms match GNU as in 64-bit code', () => {
    const cases: [Uint8Array, string][] = [
      [encodeMovMemImm(1, { disp: 0x1000 }, 0, 64), 'movb $0,0x1000'],
      [encodeOrMemImm(4, { base: REG.eax, disp: 8 }, 1, 64), 'orl $1,8(%rax)'],
      [encodeBitMemImm('btr', { base: REG.edi }, 3, 64, true), 'lock btrl $3,(%rdi)'],
      [encodePushMem({ base: REG.esp, disp: 16 }, 64), 'pushq 16(%rsp)'],
    ];
    const ref = hex(assemble(cases.map(([, s]) => `${s}\n.byte 0xcc`).join('\n'), 64));
    expect(cases.map(([b]) => hex(b)).join('cc') + 'cc').toBe(ref);
  });

  test('push/pop of registers and immediates match GNU as', () => {
    const mine = [encodePushImm32(0x12345678), encodePushReg(REG.ebx), encodePopReg(REG.esi)].map(hex).join('');
    expect(mine).toBe(hex(assemble('push $0x12345678\npush %ebx\npop %esi', 32)));
  });

  test('rejects what cannot be encoded', () => {
    expect(() => encodeBitMemImm('bt', { base: 0 }, 1, 32, true)).toThrow(RangeError);
    expect(() => encodeModrmIndexEsp()).toThrow(RangeError);
    expect(() => encodeNops(-1)).toThrow(RangeError);
    expect(() => encodeJmpRel32(0, 2 ** 33)).toThrow(RangeError);
  });
});

function encodeModrmIndexEsp(): Uint8Array {
  return encodeMovMemImm(4, { base: REG.eax, index: REG.esp }, 0);
}
