// The .afterburn format v1 encoder/decoder against GNU as: the same records written with .long/.quad/
// .byte/.short directives assemble to exactly the bytes encodeAfterburn gives, for both classes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeAfterburn, decodeAfterburn, afterburnRecordSize, afterburnAlignment, AfterburnFormatError, parseElf,
  isAfterburnSectionName, type AfterburnRecord,
} from '@previrt/linker';
import { SENSITIVE_CLASSES, MEMORY_OPERATION_KINDS, seededRandomForTest } from './random.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'previrt-afterburn-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function randomRecords(n: number, bits: 32 | 64, seed: number): AfterburnRecord[] {
  const random = seededRandomForTest(seed);
  const kinds = [...SENSITIVE_CLASSES.map((c) => c.id), ...MEMORY_OPERATION_KINDS.map((k) => k.id)];
  const maxAddress = bits === 64 ? 2 ** 47 : 2 ** 32;
  return Array.from({ length: n }, () => {
    const insnLen = 1 + Math.floor(random() * 15);
    return {
      siteAddress: Math.floor(random() * maxAddress),
      insnLen,
      siteLen: insnLen + Math.floor(random() * 20),
      kind: kinds[Math.floor(random() * kinds.length)]!,
    };
  });
}

test.each([32, 64] as const)('ELF%d: encodeAfterburn gives the bytes GNU as assembles from the same records', (bits) => {
  const records = randomRecords(200, bits, bits);
  const lines = ['.section .afterburn, "a"', `.balign ${afterburnAlignment(bits)}`];
  for (const r of records) {
    lines.push(`${bits === 64 ? '.quad' : '.long'} 0x${r.siteAddress.toString(16)}`, `.byte ${r.insnLen}, ${r.siteLen}`, `.short 0x${r.kind.toString(16)}`);
    if (bits === 64) lines.push('.long 0');
  }
  const src = join(dir, `t${bits}.s`);
  const obj = join(dir, `t${bits}.o`);
  writeFileSync(src, `${lines.join('\n')}\n`);
  execFileSync('as', [bits === 64 ? '--64' : '--32', src, '-o', obj]);
  const elf = parseElf(readFileSync(obj), obj);
  const section = elf.sectionByName('.afterburn')!;
  expect(section.addralign).toBe(afterburnAlignment(bits));
  expect(Buffer.from(encodeAfterburn(records, bits)).equals(Buffer.from(section.data))).toBe(true);
  expect(decodeAfterburn(section.data, bits)).toEqual(records);
  expect(section.data.length).toBe(records.length * afterburnRecordSize(bits));
});

test('malformed tables are rejected with the place named', () => {
  expect(() => decodeAfterburn(new Uint8Array(12), 32, 'k.o: .afterburn')).toThrow(/k\.o: \.afterburn: size 12 is not a multiple of the 8-byte ELF32 record/);
  const bad = encodeAfterburn([{ siteAddress: 16, insnLen: 1, siteLen: 7, kind: 1 }], 64);
  bad[12] = 1;
  expect(() => decodeAfterburn(bad, 64)).toThrow(AfterburnFormatError);
  expect(() => decodeAfterburn(bad, 64)).toThrow(/reserved word is 0x1, expected 0/);
  expect(() => encodeAfterburn([{ siteAddress: 2 ** 32, insnLen: 1, siteLen: 7, kind: 1 }], 32)).toThrow(/does not fit ELF32/);
  expect(() => encodeAfterburn([{ siteAddress: 0, insnLen: 256, siteLen: 7, kind: 1 }], 32)).toThrow(/insn_len 256 is out of range/);
});

test('table section names', () => {
  expect(['.afterburn', '.afterburn.pte-set', '.afterburn.mmio-write'].every(isAfterburnSectionName)).toBe(true);
  expect(['.afterburn_excluded', '.afterburnx', '.rel.afterburn', '.text'].some(isAfterburnSectionName)).toBe(false);
});
