// The tricky-assembly corpus (fixtures/asm) round-trips: the rewritten text assembles without a
// warning, every site has a record, and every record points (per readelf -r and objdump -d) at an
// instruction of its kind and length followed by NOPs up to the site length; every instruction left
// alone between the exclusion markers has a record of its own in .afterburn_excluded.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SENSITIVE_CLASSES, siteLength } from '@previrt/isa';
import { rewrite } from '@previrt/afterburner';
import { assemble, classifyObjdump, codeSections, disassemble, isNop, readRecords, sectionDump } from './binutils.js';

const corpusDir = fileURLToPath(new URL('../../../fixtures/asm', import.meta.url));
const files = fs.readdirSync(corpusDir).filter((f) => f.endsWith('.s')).sort();
const siteSize = new Map(SENSITIVE_CLASSES.map((c) => [c.id, c.siteSize]));

function header(text: string, key: string): string | null {
  const m = new RegExp(`^# ${key}: (.*)$`, 'm').exec(text);
  return m ? m[1]!.trim() : null;
}

const cases: [string, 32 | 64][] = [];
for (const f of files) {
  const text = fs.readFileSync(path.join(corpusDir, f), 'latin1');
  for (const a of (header(text, 'arch') ?? '32').split(/\s+/)) cases.push([f, Number(a) as 32 | 64]);
}

describe('tricky assembly corpus', () => {
  test('the corpus is there', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
  });

  test.each(cases)('%s --%i', (file, elfClass) => {
    const text = fs.readFileSync(path.join(corpusDir, file), 'latin1');
    assemble(text, elfClass); // the input itself is valid GNU as
    const result = rewrite(text, { elfClass, fileName: file });
    expect(result.diagnostics).toEqual([]);
    // Line numbers are kept: the rewriter only appends to lines.
    expect(result.text.split('\n').length).toBe(text.split('\n').length);
    const { obj, stderr } = assemble(result.text, elfClass);
    expect(stderr).toBe('');
    const records = readRecords(obj, elfClass);
    expect(records.length).toBe(Number(header(text, 'expect-sites')));
    const sameOrder = result.sites.length === records.length;
    const defaultMode = elfClass === 64 ? 64 : 32;
    records.forEach((rec, k) => {
      const mode = sameOrder ? result.sites[k]!.mode : defaultMode;
      const where = `${file} record ${k} (${rec.section}+0x${rec.offset.toString(16)})`;
      const insns = disassemble(obj, rec.section, rec.offset, rec.offset + rec.siteLen, mode);
      const first = insns[0];
      expect({ where, text: first?.text, offset: first?.offset }).toEqual({ where, text: first?.text, offset: rec.offset });
      const cls = classifyObjdump(first!.text);
      expect({ where, insn: first!.text, kind: cls?.id }).toEqual({ where, insn: first!.text, kind: rec.kind });
      expect({ where, length: first!.length }).toEqual({ where, length: rec.insnLen });
      expect({ where, siteLen: rec.siteLen }).toEqual({ where, siteLen: siteLength(siteSize.get(rec.kind)!, rec.insnLen, mode) });
      const pads = insns.slice(1);
      for (const p of pads) expect({ where, pad: p.text, nop: isNop(p.text) }).toEqual({ where, pad: p.text, nop: true });
      expect(first!.length + pads.reduce((n, p) => n + p.length, 0)).toBe(rec.siteLen);
      if (elfClass === 64) expect(rec.zero).toBe(0);
    });
    // Instructions left alone between the exclusion markers: each has a record in .afterburn_excluded
    // that points at it (site_len = insn_len), and their bytes are those of the input.
    const excluded = readRecords(obj, elfClass, '.afterburn_excluded');
    expect(excluded.length).toBe(Number(header(text, 'expect-excluded') ?? 0));
    for (const rec of excluded) {
      const where = `${file} excluded record (${rec.section}+0x${rec.offset.toString(16)})`;
      const first = disassemble(obj, rec.section, rec.offset, rec.offset + rec.insnLen, defaultMode)[0];
      const cls = first && classifyObjdump(first.text);
      expect({ where, offset: first?.offset, length: first?.length, kind: cls?.id, siteLen: rec.siteLen })
        .toEqual({ where, offset: rec.offset, length: rec.insnLen, kind: rec.kind, siteLen: rec.insnLen });
    }
    // Nothing sensitive outside the sites and the excluded records, except what the file declares
    // (spelled as .byte).
    let uncovered = 0;
    for (const sec of codeSections(obj)) {
      const sites = records.filter((r) => r.section === sec.name).sort((a, b) => a.offset - b.offset);
      const excludedHere = new Set(excluded.filter((r) => r.section === sec.name).map((r) => r.offset));
      let at = 0;
      for (const gapEnd of [...sites.map((s) => s.offset), sec.size]) {
        if (gapEnd > at) {
          uncovered += disassemble(obj, sec.name, at, gapEnd, defaultMode)
            .filter((i) => classifyObjdump(i.text) !== null && !excludedHere.has(i.offset)).length;
        }
        const site = sites.find((s) => s.offset === gapEnd);
        at = site ? site.offset + site.siteLen : gapEnd;
      }
    }
    // Instructions every back end keeps (rdtsc, int $n, push %ds) get no site; the rewriter lists them.
    const keptEverywhere = result.skipped.filter((k) => k.reason === 'kept-everywhere').length;
    expect(uncovered - keptEverywhere).toBe(Number(header(text, 'expect-uncovered')));
  });

  test('the excluded table is not allocated, and the loaded image is the plain one', () => {
    // Only excluded instructions: everything the loader sees (allocated sections, their relocations,
    // the linked image) is byte for byte what plain `as` makes of the input.
    const text = '\t.text\n\t.globl _start\n_start:\n\t.set .Lprevirt_off, 1\n\tcli\n\t.rept 3\n\tinb $0x60, %al\n\t.endr\n' +
      '\tlgdt 8(%esp)\n\t.set .Lprevirt_off, 0\n\tret\n\t.data\nv:\t.long _start\n';
    for (const elfClass of [32, 64] as const) {
      const r = rewrite(text, { elfClass });
      expect(r.sites).toEqual([]);
      expect(r.skipped.map((s) => s.className)).toEqual(['cli', 'in', 'lgdt']);
      const plain = assemble(text, elfClass).obj;
      const hooked = assemble(r.text, elfClass).obj;
      const sections = execFileSync('readelf', ['-SW', hooked], { encoding: 'utf8' });
      expect(/\]\s+\.afterburn_excluded\s+PROGBITS\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S*)\s/.exec(sections)?.[1]).toMatch(/^\d+$/); // no flags
      expect(sections).not.toMatch(/\s\.afterburn\s/);
      expect(readRecords(hooked, elfClass, '.afterburn_excluded').map((x) => x.offset)).toEqual([0, 1, 3, 5, 7]);
      for (const sec of ['.text', '.data']) expect(sectionDump(hooked, sec).equals(sectionDump(plain, sec))).toBe(true);
      // Relocations of the allocated sections: place, type and symbol (symbol indexes move).
      const relocs = (o: string) => execFileSync('readelf', ['-rW', o], { encoding: 'utf8' }).split('\n\n')
        .filter((b) => b.includes('Relocation section') && !b.includes('afterburn_excluded'))
        .map((b) => b.trim().replace(/ at offset 0x[0-9a-f]+/, '').replace(/^([0-9a-f]+)\s+[0-9a-f]+\s+/gm, '$1 '));
      expect(relocs(hooked)).toEqual(relocs(plain));
      expect(relocs(plain).length).toBe(1);
      const link = (o: string) => {
        const exe = `${o}.elf`;
        execFileSync('ld', [elfClass === 64 ? '-melf_x86_64' : '-melf_i386', '-Ttext=0x100000', '-o', exe, o]);
        const bin = `${exe}.bin`;
        execFileSync('objcopy', ['-O', 'binary', exe, bin]);
        return { image: fs.readFileSync(bin), segments: execFileSync('readelf', ['-lW', exe], { encoding: 'utf8' }) };
      };
      const a = link(plain);
      const b = link(hooked);
      expect(b.image.equals(a.image)).toBe(true);
      expect(b.segments).toBe(a.segments);
    }
  });

  test('every expansion of a macro body gets its own record, at its own address', () => {
    const text = fs.readFileSync(path.join(corpusDir, 'macros.s'), 'latin1');
    const { obj } = assemble(rewrite(text, { elfClass: 32 }).text, 32);
    const offsets = readRecords(obj, 32).map((r) => `${r.section}+${r.offset}`);
    expect(new Set(offsets).size).toBe(offsets.length);
  });

  test('labels the rewriter adds do not collide with the program\'s', () => {
    const text = '\t.text\n.Lafterburn_0s:\n\tcli\n970000000:\n\tjmp 970000000b\n.rept 2\n\tsti\n.endr\n';
    const r = rewrite(text, { elfClass: 32 });
    expect(r.sites.length).toBe(2);
    const { obj, stderr } = assemble(r.text, 32);
    expect(stderr).toBe('');
    expect(readRecords(obj, 32).length).toBe(3);
  });
});
