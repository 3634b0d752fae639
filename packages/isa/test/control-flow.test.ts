// Control flow and padding facts (endsFlow, branchTarget, isNop, accessesMemory) against GNU as and
// objdump: the NOP padding GNU as emits (.nops, .balign fill) must read as NOPs, and what objdump
// names a jump, return or relative branch target must agree with the decoder's raw fields, on
// hand-picked forms and on the C libraries of this machine.
import { existsSync, readFileSync } from 'node:fs';
import {
  accessesMemory, baseMnemonic, branchTarget, decode, encodeNops16, endsFlow, instructionText, isNop, type CpuMode, type DecodedInstruction,
} from '@previrt/isa';
import { assembleListed, elfSections, parseObjdump, run, type ObjdumpLine } from './support/gnu';

/** The instructions of bytes[from, to), decoded one after another without reading past `to`. */
function walk(bytes: Uint8Array, from: number, to: number, mode: CpuMode): DecodedInstruction[] {
  const window = bytes.subarray(0, to);
  const out: DecodedInstruction[] = [];
  for (let at = from; at < to;) {
    const insn = decode(window, at, mode, at);
    out.push(insn);
    at += Math.max(1, insn.length);
  }
  return out;
}

/** Assembler configurations: GNU as's padding differs per mode and -march (i386 pads with lea/mov). */
const PADDING: { name: string; as: 32 | 64; mode: CpuMode; prelude: string }[] = [
  { name: '--32 (i386 lea forms)', as: 32, mode: 32, prelude: '' },
  { name: '--32 .arch i686 (nopl forms)', as: 32, mode: 32, prelude: '.arch i686' },
  { name: '--64', as: 64, mode: 64, prelude: '' },
];

describe('GNU as padding is NOPs', () => {
  test.each(PADDING)('every .nops 1..15 of GNU as $name', ({ as, mode, prelude }) => {
    const lengths = Array.from({ length: 15 }, (_, i) => i + 1);
    const { bytes } = assembleListed([prelude, ...lengths.map((n) => `.nops ${n}\nint3`)].join('\n'), as, null);
    const forms = new Set<string>();
    let at = 0;
    for (const n of lengths) {
      const insns = walk(bytes, at, at + n, mode);
      for (const i of insns) {
        forms.add(instructionText(i));
        expect({ n, insn: instructionText(i), nop: isNop(i, mode), ends: endsFlow(i), memory: accessesMemory(i), target: branchTarget(i) })
          .toEqual({ n, insn: instructionText(i), nop: true, ends: false, memory: false, target: null });
      }
      expect(insns.reduce((s, i) => s + i.length, 0)).toBe(n);
      at += n;
      expect(bytes[at]).toBe(0xcc);
      at++;
    }
    expect(forms.size).toBeGreaterThanOrEqual(4);
  });

  test('encodeNops16: GNU as encodings of nop, mov %si,%si and lea 0x0(%si),%si; runs of them are NOPs', () => {
    const { bytes } = assembleListed(['.code16', 'nop', 'mov %si,%si', '{disp8} lea 0x0(%si),%si', '{disp16} lea 0x0(%si),%si'].join('\n'), 32, null);
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    expect([1, 2, 3, 4].map((n) => hex(encodeNops16(n))).join('')).toBe(hex(bytes));
    for (let n = 0; n <= 40; n++) {
      const pad = encodeNops16(n);
      const insns = walk(pad, 0, n, 16);
      expect(insns.reduce((s, i) => s + i.length, 0)).toBe(n);
      expect(insns.filter((i) => !isNop(i, 16)).map(instructionText)).toEqual([]);
      expect(insns.length).toBe(Math.ceil(n / 4));
    }
  });

  test.each([...PADDING, { name: '--32 .code16', as: 32 as const, mode: 16 as CpuMode, prelude: '.code16' }])(
    '.balign fill of GNU as $name: NOPs, after a jmp to its end when it is long',
    ({ as, mode, prelude }) => {
      // Blocks of k int3 then `.balign 64`: fills of 63 down to 1 bytes.
      const ks = Array.from({ length: 63 }, (_, i) => i + 1);
      const { bytes, lines } = assembleListed([prelude, ...ks.map((k) => `${'int3\n'.repeat(k)}.balign 64`), 'int3'].join('\n'), as, mode);
      const objdumpAt = new Map(lines.map((l) => [l.address, l]));
      let jumps = 0;
      for (const k of ks) {
        const start = 64 * (k - 1) + k;
        const end = 64 * k;
        const insns = walk(bytes, start, end, mode);
        expect(insns.reduce((s, i) => s + i.length, 0)).toBe(end - start);
        let first = 0;
        if (endsFlow(insns[0]!)) {
          // GNU as jumps over a long fill: objdump's target is the end of the fill.
          const ref = objdumpAt.get(start)!;
          expect(ref.text.replace(/\s+/g, ' ')).toBe(`jmp 0x${end.toString(16)}`);
          expect(branchTarget(insns[0]!)).toBe(end);
          jumps++;
          first = 1;
        }
        for (const i of insns.slice(first)) {
          expect({ k, at: i.address, insn: instructionText(i), nop: isNop(i, mode) }).toEqual({ k, at: i.address, insn: instructionText(i), nop: true });
        }
      }
      // --32 jumps over long fills (more than a few NOPs); --64 never does.
      if (as === 64) expect(jumps).toBe(0);
      else expect(jumps).toBeGreaterThan(0);
    },
  );
});

/** objdump's text split into prefixes, mnemonic and operands ("notrack jmp *%rax", "repz ret"). */
const OBJDUMP_PREFIX = /^(?:(?:lock|rep[nz]*|bnd|notrack|data16|data32|addr16|addr32|rex(?:\.[WRXB]+)?|[c-gs]s|xacquire|xrelease)\s+)*/;
function objdumpParts(line: string): { mnemonic: string; operands: string } {
  const rest = line.trim().replace(OBJDUMP_PREFIX, '');
  const m = /^(\S+)\s*(.*)$/.exec(rest);
  return { mnemonic: m?.[1] ?? '', operands: (m?.[2] ?? '').replace(/\s+#.*$/, '').trim() };
}

/** What objdump's listing says: control does not fall through past jmp, ljmp, ret, lret, iret, sysret, sysexit, ud2, (bad). */
function objdumpEndsFlow(line: string): boolean {
  const { mnemonic } = objdumpParts(line);
  return /^(jmp|ljmp|ret|lret|iret|sysret|sysexit)[wldq]?$|^ud2$|^\(bad\)$/.test(mnemonic);
}

/** The code address objdump prints as a branch's operand (bare hex, "1c <label>"), or null. */
function objdumpBranchTarget(line: string): number | null {
  const { mnemonic, operands } = objdumpParts(line);
  if (!/^(j|call|loop|xbegin)/.test(mnemonic)) return null;
  const m = /^([0-9a-f]+)(?:\s+<.*>)?$/.exec(operands);
  return m ? parseInt(m[1]!, 16) : null;
}

function compareWithObjdump(bytes: Uint8Array, lines: ObjdumpLine[], mode: CpuMode, base: number, limit = 20) {
  const mismatches: string[] = [];
  let compared = 0;
  let targets = 0;
  let ends = 0;
  for (const l of lines) {
    const insn = decode(bytes, l.address - base, mode, l.address);
    if (insn.length !== l.bytes.length) continue; // a boundary objdump draws at a symbol: not this test's subject
    compared++;
    const expected = { ends: objdumpEndsFlow(l.text), target: objdumpBranchTarget(l.text) };
    const mine = { ends: endsFlow(insn), target: branchTarget(insn) };
    if (expected.target !== null) targets++;
    if (expected.ends) ends++;
    // What objdump names a NOP pads correctly (pause and lock nop are not NOPs).
    const named = objdumpParts(l.text).mnemonic;
    const nopExpected = /^nop[wlq]?$/.test(named) && !/\block\b/.test(l.text);
    if (mine.ends !== expected.ends || mine.target !== expected.target || (nopExpected && !isNop(insn, mode))) {
      if (mismatches.length < limit) mismatches.push(`${l.address.toString(16)}: objdump "${l.text}" ${JSON.stringify(expected)}, isa "${instructionText(insn)}" ${JSON.stringify(mine)} nop ${isNop(insn, mode)}`);
    }
  }
  return { mismatches, compared, targets, ends };
}

describe('endsFlow and branchTarget agree with objdump', () => {
  const FORMS: Record<16 | 32 | 64, string[]> = {
    16: ['jmp fwd', 'jmp *%ax', 'jmp *(%bx)', 'ljmp $0x10,$0x20', 'ljmp *(%bx)', 'ret', 'ret $4', 'lret', 'lret $8', 'iret', 'ud2',
      'je fwd', 'jne back', 'loop back', 'loope back', 'loopne back', 'jcxz back', 'call fwd', 'call *%ax', 'lcall $0x10,$0x20',
      'int $0x10', 'int3', 'hlt', 'cli', 'nop', 'ud1 %ax,%ax', 'sysenter'],
    32: ['jmp fwd', 'jmp *%eax', 'jmp *4(%eax,%ebx,4)', 'ljmp $0x10,$0x20', 'ljmp *(%eax)', 'ret', 'ret $4', 'retw', 'lret', 'lret $8',
      'iret', 'iretw', 'sysexit', 'sysret', 'ud2', 'je fwd', 'jg back', 'js fwd', 'loop back', 'loope back', 'loopne back', 'jecxz back',
      'jcxz back', 'call fwd', 'call *%eax', 'call *(%eax)', 'lcall $0x10,$0x20', 'lcall *(%eax)', 'repz ret', 'bnd jmp fwd',
      'notrack jmp *%eax', 'int $0x80', 'int3', 'into', 'hlt', 'sysenter', 'syscall', 'xbegin back', 'ud1 %eax,%eax', 'nop'],
    64: ['jmp fwd', 'jmp *%rax', 'jmp *0x10(%rip)', 'jmp *(%rax)', 'ljmp *(%rax)', 'ret', 'ret $8', 'retw', 'lretq', 'lretl', 'iretq', 'iretl',
      'sysretq', 'sysretl', 'sysexitq', 'ud2', 'je fwd', 'jno back', 'loop back', 'jrcxz back', 'jecxz back', 'call fwd', 'call *%rax',
      'call *0x10(%rip)', 'lea 0x10(%rip),%rax', 'mov 0x10(%rip),%eax', 'repz ret', 'notrack jmp *%rax', 'bnd call fwd',
      'int $0x80', 'int3', 'syscall', 'hlt', 'xbegin fwd', 'ud1 %eax,%eax', 'nop'],
  };

  test.each([16, 32, 64] as const)('%d-bit forms assembled by GNU as', (mode) => {
    // Backward targets near, forward ones past 200 bytes so both rel8 and rel32 forms occur.
    const src = [mode === 16 ? '.code16' : '', 'back: nop', ...FORMS[mode], '.fill 200,1,0x90', 'fwd: nop'].join('\n');
    const { bytes, lines } = assembleListed(src, mode === 64 ? 64 : 32, mode);
    const result = compareWithObjdump(bytes, lines, mode, 0);
    expect(result.mismatches).toEqual([]);
    expect(result.compared).toBe(lines.length);
    expect(result.targets).toBeGreaterThanOrEqual(8);
    expect(result.ends).toBeGreaterThanOrEqual(10);
  });

  // C libraries nobody here wrote: the i386 one is installed with gcc-multilib (scripts/setup.sh).
  test.each([
    ['/usr/lib/x86_64-linux-gnu/libc.so.6', 64],
    ['/usr/lib32/libc.so.6', 32],
  ] as const)('every instruction of %s', (file, mode) => {
    expect(existsSync(file)).toBe(true);
    const text = elfSections(file).get('.text')!;
    const bytes = new Uint8Array(readFileSync(file)).subarray(text.off, text.off + text.size);
    const { lines } = parseObjdump(run('objdump', ['-d', '-w', '--insn-width=15', '-j', '.text', file], { maxBuffer: 1 << 30 }));
    const result = compareWithObjdump(bytes, lines, mode, text.addr);
    console.log(`${file}: ${result.compared} of ${lines.length} instructions compared, ${result.targets} branch targets, ${result.ends} flow ends: ${result.mismatches.length} mismatches`);
    expect(result.mismatches).toEqual([]);
    expect(result.compared).toBeGreaterThan(lines.length * 0.999);
    expect(result.targets).toBeGreaterThan(10_000);
  });
});

describe('isNop and accessesMemory on single forms', () => {
  // [mode, statement, isNop, accessesMemory]: a NOP changes no register, flag or memory.
  const CASES: [CpuMode, string, boolean, boolean][] = [
    [32, 'nop', true, false],
    [32, 'xchg %ax,%ax', true, false],
    [32, 'xchg %eax,%eax', true, false],
    [32, 'xchg %ebx,%ebx', true, false],
    [32, 'mov %esi,%esi', true, false],
    [32, 'mov %si,%si', true, false],
    [32, 'mov %bl,%bl', true, false],
    [32, 'lea 0x0(%esi),%esi', true, false],
    [32, '.byte 0x8d,0x74,0x26,0x00 # lea 0x0(%esi,%eiz,1),%esi', true, false],
    [32, 'lea (%edi),%edi', true, false],
    [32, 'nopl 0x0(%eax)', true, false],
    [32, 'nopw 0x0(%eax,%eax,1)', true, false],
    [32, 'pause', false, false],
    [32, 'inc %eax', false, false],
    [32, 'mov %eax,%ebx', false, false],
    [32, 'xchg %eax,%ebx', false, false],
    [32, 'lea 0x1(%esi),%esi', false, false],
    [32, 'lea 0x0(%esi),%edi', false, false],
    [32, 'lea 0x0(%esi,%ebx,1),%esi', false, false],
    [32, 'lea 0x0(,%esi,1),%esi', false, false],
    [32, 'addr16 lea 0x0(%si),%esi', false, false],
    [32, 'mov (%eax),%eax', false, true],
    [32, 'mov %eax,(%eax)', false, true],
    [32, 'mov 0x1234,%eax', false, true],
    [32, 'mov %al,0x1234', false, true],
    [32, 'lock btrl $1,(%eax)', false, true],
    [32, 'movl $1,0x10(%ebp)', false, true],
    [32, 'lea 0x10(%ebp),%eax', false, false],
    [32, 'mov %cr0,%eax', false, false],
    [64, 'nop', true, false],
    [64, 'xchg %ax,%ax', true, false],
    [64, 'xchg %rax,%rax', true, false],
    [64, 'mov %rsi,%rsi', true, false],
    [64, 'mov %r9,%r9', true, false],
    [64, 'mov %r9w,%r9w', true, false],
    [64, 'lea 0x0(%rsi),%rsi', true, false],
    [64, 'lea 0x0(%r12),%r12', true, false],
    [64, 'nopw %cs:0x0(%rax,%rax,1)', true, false],
    [64, 'xchg %eax,%eax', false, false],
    [64, 'mov %esi,%esi', false, false],
    [64, 'lea 0x0(%rsi),%esi', false, false],
    [64, 'lea 0x0(%rip),%rax', false, false],
    [64, 'xchg %r8,%rax', false, false],
    [64, 'mov (%rip),%rax', false, true],
    [16, 'nop', true, false],
    [16, 'xchg %eax,%eax', true, false],
    [16, 'mov %si,%si', true, false],
    [16, 'lea 0x0(%si),%si', true, false],
    [16, '.byte 0x8d,0xb4,0,0 # lea 0x0(%si),%si with a 16-bit displacement', true, false],
    [16, 'lea 0x0(%bx,%si),%si', false, false],
    [16, 'mov (%si),%si', false, true],
  ];

  test.each([16, 32, 64] as const)('%d-bit', (mode) => {
    const cases = CASES.filter((c) => c[0] === mode);
    const { bytes, lines } = assembleListed([mode === 16 ? '.code16' : '', ...cases.map((c) => c[1])].join('\n'), mode === 64 ? 64 : 32, mode);
    // One instruction per statement, as objdump shows them.
    expect(lines.length).toBe(cases.length);
    cases.forEach(([, statement, nop, memory], k) => {
      const insn = decode(bytes, lines[k]!.address, mode, lines[k]!.address);
      expect(insn.length).toBe(lines[k]!.bytes.length);
      expect({ statement, objdump: lines[k]!.text.replace(/\s+/g, ' '), nop: isNop(insn, mode), memory: accessesMemory(insn) })
        .toEqual({ statement, objdump: lines[k]!.text.replace(/\s+/g, ' '), nop, memory });
    });
  });

  test('a lock prefix or an undefined encoding is never a NOP', () => {
    const lockNop = decode(Uint8Array.of(0xf0, 0x90), 0, 32);
    expect(isNop(lockNop, 32)).toBe(false);
    const bad = decode(Uint8Array.of(0x0f, 0x04), 0, 32);
    expect(bad.valid).toBe(false);
    expect([isNop(bad, 32), endsFlow(bad), accessesMemory(bad), branchTarget(bad)]).toEqual([false, true, false, null]);
  });

  test('baseMnemonic drops the prefixes objdump prints', () => {
    expect(baseMnemonic(decode(Uint8Array.of(0xf3, 0xc3), 0, 64))).toBe('ret');
    expect(baseMnemonic(decode(Uint8Array.of(0x3e, 0xff, 0xe0), 0, 64))).toBe('jmp');
    expect(baseMnemonic(decode(Uint8Array.of(0x0f, 0x1f, 0x00), 0, 64))).toBe('nopl');
  });
});
