// The fast path (scanInstructions, instructionLength, sensitiveClassAt: attribute words derived from
// the opcode tables) against the full decoder (decode), instruction by instruction: same boundaries,
// same sensitive class, same truncation. Random bytes reach the corners real code rarely does
// (prefix runs, REX, mandatory-prefix checks, groups, (bad) forms, VEX/EVEX/XOP); the real-code side
// is covered by objdump-diff.test.ts, which compares instructionLength with objdump.
import { decode, instructionLength, scanInstructions, sensitiveClassAt, SENSITIVE_CLASSES, type CpuMode } from '@previrt/isa';
import { rng } from './support/random';

/** Random code, a quarter of it bytes that start something interesting (prefixes, escapes, VEX/EVEX/XOP, system opcodes). */
function randomCode(seed: number, size: number): Uint8Array {
  const r = rng(seed);
  const special = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36, 0x9b, 0x0f, 0x0f, 0x0f, 0x0f, 0x38, 0x3a,
    0x48, 0x41, 0x44, 0x4c, 0x40, 0xc4, 0xc5, 0x62, 0x8f, 0x01, 0x00, 0xf6, 0xf7, 0xff, 0xd9, 0xdf, 0x90, 0xe8, 0xa1];
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = r() % 4 === 0 ? special[r() % special.length]! : r() & 0xff;
  return b;
}

function compareWalk(bytes: Uint8Array, mode: CpuMode): { instructions: number; sensitive: number; mismatches: string[] } {
  const walked: [number, number, number][] = [];
  scanInstructions(bytes, 0, bytes.length, mode, (off, len, cls) => { walked.push([off, len, cls?.id ?? 0]); });
  const mismatches: string[] = [];
  let off = 0, i = 0, sensitive = 0;
  while (off < bytes.length && mismatches.length < 10) {
    const d = decode(bytes, off, mode);
    const len = Math.max(1, d.length);
    const cls = d.sensitive?.id ?? 0;
    if (cls) sensitive++;
    const w = walked[i++];
    const hex = [...bytes.subarray(off, off + 15)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
    if (!w || w[0] !== off || w[1] !== len || w[2] !== cls) {
      mismatches.push(`${mode}-bit @${off.toString(16)} ${hex}: decode ${len} bytes class ${cls} "${d.mnemonic} ${d.operandText}", scan ${w?.[1]} bytes class ${w?.[2]}`);
      if (!w || w[0] !== off) break;
    }
    // instructionLength and sensitiveClassAt see the bytes up to the end of the buffer, as decode does.
    if (off + 15 <= bytes.length && instructionLength(bytes, off, mode) !== d.length) {
      mismatches.push(`${mode}-bit @${off.toString(16)} ${hex}: instructionLength ${instructionLength(bytes, off, mode)}, decode ${d.length}`);
    }
    if ((sensitiveClassAt(bytes, off, mode)?.id ?? 0) !== cls) mismatches.push(`${mode}-bit @${off.toString(16)} ${hex}: sensitiveClassAt differs from decode`);
    off += len;
  }
  if (mismatches.length === 0 && walked.length !== i) mismatches.push(`${mode}-bit: scan found ${walked.length} instructions, decode ${i}`);
  return { instructions: i, sensitive, mismatches };
}

describe('fast path = full decoder', () => {
  test.each([16, 32, 64] as CpuMode[])('random code, %i-bit', (mode) => {
    let instructions = 0, sensitive = 0;
    for (const seed of [1, 2, 3]) {
      const r = compareWalk(randomCode(seed * 1009 + mode, 60_000), mode);
      expect(r.mismatches).toEqual([]);
      instructions += r.instructions;
      sensitive += r.sensitive;
    }
    expect(instructions).toBeGreaterThan(50_000);
    expect(sensitive).toBeGreaterThan(100);
  });

  test('every catalogue class a one- or two-byte opcode can name is found by both', () => {
    // Each opcode byte (one-byte map and 0F map) with a few ModRM bytes, in both 32- and 64-bit mode.
    const found = new Set<number>();
    for (const mode of [32, 64] as CpuMode[]) {
      for (let op = 0; op < 256; op++) {
        for (const modrm of [0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0xc0, 0xc8, 0xd0, 0xd8, 0xe0, 0xe8, 0xf0, 0xf8, 0xf9, 0xfb]) {
          for (const prefix of [[], [0x0f]]) {
            const bytes = Uint8Array.from([...prefix, op, modrm, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            const d = decode(bytes, 0, mode);
            const cls = sensitiveClassAt(bytes, 0, mode);
            expect(cls?.id ?? 0).toBe(d.sensitive?.id ?? 0);
            expect(instructionLength(bytes, 0, mode)).toBe(d.length);
            if (cls) found.add(cls.id);
          }
        }
      }
    }
    // Every instruction class of the catalogue is reachable this way (all are one-byte or 0F opcodes).
    for (const c of SENSITIVE_CLASSES) expect([c.name, found.has(c.id)]).toEqual([c.name, true]);
  });

  test('truncated instructions: -1 from instructionLength, one byte from scanInstructions, as the full decoder', () => {
    const cases: [CpuMode, number[]][] = [
      [16, [0x66, 0x0f, 0x38, 0x00, 0x87, 0x34, 0x12]],
      [32, [0x66, 0x0f, 0x38, 0x00, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12]],
      [32, [0xf3, 0x0f, 0xb8, 0x44, 0x24, 0x08]],
      [64, [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8]],
      [64, [0x66, 0x41, 0xc7, 0x84, 0x88, 0x10, 0x00, 0x00, 0x00, 0x34, 0x12]],
    ];
    for (const [mode, insn] of cases) {
      const code = Uint8Array.from(insn);
      expect(decode(code, 0, mode).length).toBe(code.length);
      for (let end = 1; end <= code.length; end++) {
        const window = code.subarray(0, end);
        expect([end, instructionLength(window, 0, mode)]).toEqual([end, end < code.length ? -1 : code.length]);
        const lengths: number[] = [];
        scanInstructions(window, 0, end, mode, (_o, len) => { lengths.push(len); });
        expect([end, lengths[0]]).toEqual([end, Math.max(1, decode(window, 0, mode).length)]);
      }
    }
  });
});
