// `previrt decode <elf> [--sensitive] [--json] [--quiet]`: disassembles every executable section of an
// ELF32 (i386) or ELF64 (x86-64) file with the @previrt/isa decoder, or lists only its sensitive
// instructions.
import { readFileSync, statSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { decode, formatInstruction, type CpuMode } from '@previrt/isa';
import { CliError, EXIT_USAGE } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// The smallest ELF reader this command needs (sections and symbols). The full reader is the linker
// package's `parseElf`; this one is to be replaced by it once that is exported.
export interface ElfSection { name: string; type: number; flags: number; addr: number; offset: number; size: number; index: number }
export interface ElfSymbol { name: string; value: number; size: number; type: number; shndx: number }
export interface MiniElf { is64: boolean; type: number; machine: number; sections: ElfSection[]; symbols: ElfSymbol[] }

const SHT_NOBITS = 8, SHT_SYMTAB = 2, SHF_EXECINSTR = 4;
const EM_386 = 3, EM_X86_64 = 62;

export function readMiniElf(bytes: Uint8Array, file: string): MiniElf {
  const fail = (what: string) => { throw new CliError(`${file}: ${what}`, EXIT_USAGE); };
  if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) fail('not an ELF file (no \\x7fELF magic)');
  const cls = bytes[4];
  if (cls !== 1 && cls !== 2) fail(`not an ELF file (unknown class ${cls})`);
  if (bytes[5] !== 1) fail('big-endian ELF is not x86 (expected little-endian data)');
  const is64 = cls === 2;
  const ehsize = is64 ? 64 : 52;
  if (bytes.length < ehsize) fail(`truncated ELF header (${bytes.length} bytes, expected at least ${ehsize})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const addr = (o: number) => (is64 ? Number(dv.getBigUint64(o, true)) : u32(o));
  const type = u16(16);
  const machine = u16(18);
  if (machine !== EM_386 && machine !== EM_X86_64) fail(`not an x86 ELF file (machine ${machine}; expected 3 (i386) or 62 (x86-64))`);
  const shoff = addr(is64 ? 0x28 : 0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const shstrndx = u16(is64 ? 0x3e : 0x32);
  if (shnum === 0) fail('has no section header table (nothing to disassemble)');
  if (shentsize < (is64 ? 64 : 40)) fail(`section header entries of ${shentsize} bytes (expected ${is64 ? 64 : 40})`);
  if (shoff + shnum * shentsize > bytes.length) {
    fail(`section header table (offset 0x${shoff.toString(16)}, ${shnum} entries) extends past the end of the file (${bytes.length} bytes): truncated?`);
  }
  const raw: ElfSection[] = [];
  const nameOffsets: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    nameOffsets.push(u32(o));
    raw.push({
      name: '', type: u32(o + 4), flags: is64 ? Number(dv.getBigUint64(o + 8, true)) : u32(o + 8),
      addr: addr(is64 ? o + 16 : o + 12), offset: addr(is64 ? o + 24 : o + 16), size: addr(is64 ? o + 32 : o + 20), index: i,
    });
  }
  for (const s of raw) {
    if (s.type !== SHT_NOBITS && s.type !== 0 && s.offset + s.size > bytes.length) {
      fail(`section ${s.index} (offset 0x${s.offset.toString(16)}, size 0x${s.size.toString(16)}) extends past the end of the file (${bytes.length} bytes)`);
    }
  }
  if (shstrndx >= shnum) fail(`section-name table index ${shstrndx} is out of range (${shnum} sections)`);
  const strtab = raw[shstrndx]!;
  const cstr = (base: ElfSection, off: number): string => {
    let end = base.offset + off;
    const limit = base.offset + base.size;
    if (end >= limit) return '';
    while (end < limit && bytes[end] !== 0) end++;
    return Buffer.from(bytes.subarray(base.offset + off, end)).toString('latin1');
  };
  raw.forEach((s, i) => { s.name = cstr(strtab, nameOffsets[i]!); });
  const symbols: ElfSymbol[] = [];
  for (const symtab of raw.filter((s) => s.type === SHT_SYMTAB)) {
    const link = raw[u32(shoff + symtab.index * shentsize + (is64 ? 40 : 24))];
    const entsize = is64 ? 24 : 16;
    for (let o = symtab.offset + entsize; o + entsize <= symtab.offset + symtab.size; o += entsize) {
      const nameOff = u32(o);
      const sym = is64
        ? { value: Number(dv.getBigUint64(o + 8, true)), size: Number(dv.getBigUint64(o + 16, true)), info: bytes[o + 4]!, shndx: u16(o + 6) }
        : { value: u32(o + 4), size: u32(o + 8), info: bytes[o + 12]!, shndx: u16(o + 14) };
      symbols.push({ name: link ? cstr(link, nameOff) : '', value: sym.value, size: sym.size, type: sym.info & 0xf, shndx: sym.shndx });
    }
  }
  return { is64, type, machine, sections: raw, symbols };
}

// ---------------------------------------------------------------------------------------------

export interface DecodedSite {
  address: number; length: number; mnemonic: string; operands: string; class: string | null;
  symbol: string | null; offset: number; section: string;
}

/** Walks every executable section; calls `emit` per instruction (and `label` at each symbol). */
export function disassembleElf(
  bytes: Uint8Array, elf: MiniElf,
  emit: (site: DecodedSite, raw: Uint8Array) => void,
  label?: (section: string, address: number, name: string) => void,
  progress?: (done: number) => void,
): void {
  const mode: CpuMode = elf.machine === EM_X86_64 ? 64 : 32;
  const relocatable = elf.type === 1;
  for (const sec of elf.sections) {
    if (!(sec.flags & SHF_EXECINSTR) || sec.type === SHT_NOBITS || sec.size === 0) continue;
    const data = bytes.subarray(sec.offset, sec.offset + sec.size);
    const base = relocatable ? 0 : sec.addr;
    // Symbols of this section (not section/file symbols), sorted; objdump starts decoding afresh at each.
    const syms = elf.symbols
      .filter((s) => s.shndx === sec.index && s.type !== 3 && s.type !== 4 && s.name !== '' && s.value - base >= 0 && s.value - base < sec.size)
      .sort((a, b) => a.value - b.value || (a.type === 2 ? -1 : 1));
    const starts = [...new Set(syms.map((s) => s.value - base))];
    let si = 0;
    let current: ElfSymbol | null = null;
    let off = 0;
    let nextStart = starts.length ? starts[0]! : sec.size;
    while (off < sec.size) {
      while (si < starts.length && starts[si]! <= off) {
        const here = starts[si]!;
        current = syms.find((s) => s.value - base === here) ?? current;
        if (label && here === off) label(sec.name, base + off, current!.name);
        si++;
      }
      nextStart = si < starts.length ? starts[si]! : sec.size;
      const window = data.subarray(0, nextStart);
      const insn = decode(window, off, mode, base + off);
      const len = Math.max(1, insn.length);
      emit({
        address: base + off, length: len, mnemonic: insn.mnemonic, operands: insn.operandText,
        class: insn.sensitive?.name ?? null, symbol: current?.name ?? null,
        offset: current ? base + off - current.value : base + off, section: sec.name,
      }, data.subarray(off, off + len));
      off += len;
      if (progress && (off & 0xffff) < len) progress(sec.offset + off);
    }
  }
}

interface DecodeArgs { elf: string; sensitive: boolean; json: boolean; quiet: boolean }

function loadFile(file: string): Uint8Array {
  let st;
  try { st = statSync(file); } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code})`}`, EXIT_USAGE);
  }
  if (st.isDirectory()) throw new CliError(`${file}: is a directory, expected an ELF file`, EXIT_USAGE);
  try { return new Uint8Array(readFileSync(file)); } catch (err) {
    throw new CliError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
  }
}

const hex = (n: number) => n.toString(16);

export const decodeCommand: CommandModule<object, DecodeArgs> = {
  command: 'decode <elf>',
  describe: 'disassemble the executable sections of an i386/x86-64 ELF file (or list its sensitive instructions)',
  builder: (y) => y
    .positional('elf', { type: 'string', demandOption: true, describe: 'ELF32 (i386) or ELF64 (x86-64) object, executable or library' })
    .option('sensitive', { type: 'boolean', default: false, describe: 'list only sensitive instructions (the catalogue classes)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object: { file, sites[, instructions] }' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress line' })
    .example('$0 decode vmlinux --sensitive', 'every sensitive instruction with its address, symbol and class')
    .example('$0 decode kernel.o --sensitive --json', 'the same as JSON'),
  handler: (args) => {
    const file = args.elf;
    const bytes = loadFile(file);
    const elf = readMiniElf(bytes, file);
    const showProgress = !args.quiet && process.stderr.isTTY === true && bytes.length > 1 << 20;
    const progress = showProgress ? (done: number) => process.stderr.write(`\rdecoding ${file}: ${Math.min(100, Math.floor((done * 100) / bytes.length))}%`) : undefined;
    const out: string[] = [];
    const sites: DecodedSite[] = [];
    const all: DecodedSite[] = [];
    let lastSection = '';
    const sectionHeader = (name: string) => { if (name !== lastSection) { out.push('', `Disassembly of section ${name}:`); lastSection = name; } };
    const width = elf.is64 ? 16 : 8;
    disassembleElf(bytes, elf, (site, raw) => {
      if (site.class !== null) sites.push(site);
      if (args.json) { if (!args.sensitive) all.push(site); return; }
      if (args.sensitive) {
        if (site.class === null) return;
        const where = site.symbol ? `<${site.symbol}+0x${hex(site.offset)}>` : `<${site.section}>`;
        out.push(`${hex(site.address).padStart(8, '0')} ${where}: ${formatInstruction({ mnemonic: site.mnemonic, operandText: site.operands } as never)}\t[${site.class}]`);
        return;
      }
      sectionHeader(site.section);
      const bytesText = [...raw].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      const text = formatInstruction({ mnemonic: site.mnemonic, operandText: site.operands } as never);
      out.push(`${hex(site.address).padStart(8, ' ')}:\t${bytesText.padEnd(21, ' ')}\t${text}${site.class ? `\t# sensitive: ${site.class}` : ''}`);
    }, args.json || args.sensitive ? undefined : (section, address, name) => { sectionHeader(section); out.push('', `${hex(address).padStart(width, '0')} <${name}>:`); }, progress);
    if (showProgress) process.stderr.write('\r\x1b[K');
    if (args.json) {
      const strip = ({ section: _s, operands: _o, ...rest }: DecodedSite) => rest;
      const obj: Record<string, unknown> = { file, sites: sites.map(strip) };
      if (!args.sensitive) obj.instructions = all.map(({ section: _s, ...rest }) => rest);
      process.stdout.write(JSON.stringify(obj) + '\n');
      return;
    }
    if (args.sensitive && out.length === 0) out.push(`${file}: no sensitive instructions`);
    process.stdout.write(out.join('\n') + '\n');
  },
};

export default decodeCommand;
