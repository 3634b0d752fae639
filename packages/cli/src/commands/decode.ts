// `previrt decode <elf> [--sensitive] [--json] [--quiet]`: disassembles every executable section of an
// ELF32 (i386) or ELF64 (x86-64) file with the @previrt/isa decoder, or lists only its sensitive
// instructions. The ELF file is read by the linker package's parseElf (the project's one ELF reader).
import { readFileSync, statSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { decode, formatInstruction, scanInstructions, siteNeeded, type CpuMode } from '@previrt/isa';
import {
  parseElf, ElfError, type ElfFile, type ElfSymbol,
  EM_386, EM_X86_64, ET_REL, SHF_EXECINSTR, SHT_NOBITS, STT_FUNC, STT_GNU_IFUNC, STT_NOTYPE, STT_OBJECT,
} from '@previrt/linker';
import { CliError, EXIT_USAGE } from '../errors.js';

/** Parses `bytes` as an x86 ELF file with sections; any problem is a one-line usage error naming the file. */
export function readX86Elf(bytes: Uint8Array, file: string): ElfFile {
  let elf: ElfFile;
  try {
    elf = parseElf(bytes, file);
  } catch (err) {
    if (err instanceof ElfError) throw new CliError(err.message, EXIT_USAGE);
    throw err;
  }
  const { machine } = elf.header;
  if (machine !== EM_386 && machine !== EM_X86_64) {
    throw new CliError(`${file}: not an x86 ELF file (machine ${machine}; expected ${EM_386} (i386) or ${EM_X86_64} (x86-64))`, EXIT_USAGE);
  }
  if (elf.sections.length === 0) throw new CliError(`${file}: has no section header table (nothing to disassemble)`, EXIT_USAGE);
  return elf;
}

// ---------------------------------------------------------------------------------------------

export interface DecodedSite {
  address: number; length: number; mnemonic: string; operands: string; class: string | null;
  /** Sensitive instructions only: whether it needs a site (a class that must be handled, in a form some back end rewrites). */
  needsSite?: boolean;
  symbol: string | null; offset: number; section: string;
}

/** Symbol types that name code or data (the ones objdump labels and starts decoding afresh at). */
const LABEL_TYPES = new Set([STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_GNU_IFUNC]);

/**
 * Walks every executable section; calls `emit` per instruction (and `label` at each symbol). With
 * `sensitiveOnly`, only sensitive instructions are decoded in full and emitted (the rest are walked
 * with the decoder's fast path).
 */
export function disassembleElf(
  elf: ElfFile,
  emit: (site: DecodedSite, raw: Uint8Array) => void,
  label?: (section: string, address: number, name: string) => void,
  progress?: (done: number) => void,
  sensitiveOnly = false,
): void {
  const mode: CpuMode = elf.header.machine === EM_X86_64 ? 64 : 32;
  const relocatable = elf.header.type === ET_REL;
  // Like objdump, a stripped file is labelled with its dynamic symbols.
  const symbols: ElfSymbol[] = elf.symbols.length > 0 ? elf.symbols : elf.dynamicSymbols;
  for (const sec of elf.sections) {
    if (!(sec.flags & SHF_EXECINSTR) || sec.type === SHT_NOBITS || sec.size === 0) continue;
    const data = sec.data;
    const base = relocatable ? 0 : sec.addr;
    const where = (address: number) => elf.symbolAt(address, sec.index);
    // Symbol addresses in this section, sorted: objdump decodes each symbol's range on its own.
    const starts = [...new Set(symbols
      .filter((s) => s.shndx === sec.index && LABEL_TYPES.has(s.type) && s.name !== '' && s.value >= base && s.value - base < sec.size)
      .map((s) => s.value - base))].sort((a, b) => a - b);
    let si = 0;
    let off = 0;
    while (off < sec.size) {
      while (si < starts.length && starts[si]! <= off) {
        if (label && starts[si] === off) label(sec.name, base + off, where(base + off)?.name ?? '');
        si++;
      }
      const nextStart = si < starts.length ? starts[si]! : sec.size;
      const window = data.subarray(0, nextStart);
      const emitAt = (o: number): number => {
        const insn = decode(window, o, mode, base + o);
        const len = Math.max(1, insn.length);
        const at = where(base + o);
        emit({
          address: base + o, length: len, mnemonic: insn.mnemonic, operands: insn.operandText,
          class: insn.sensitive?.name ?? null,
          ...(insn.sensitive ? { needsSite: siteNeeded(insn.sensitive, insn) } : {}),
          symbol: at?.name ?? null,
          offset: at ? at.offset : base + o, section: sec.name,
        }, data.subarray(o, o + len));
        return len;
      };
      if (sensitiveOnly) {
        scanInstructions(window, off, nextStart, mode, (o, _len, cls) => { if (cls) emitAt(o); });
        if (progress && (nextStart >> 16) !== (off >> 16)) progress(sec.offset + nextStart);
        off = nextStart;
        continue;
      }
      const len = emitAt(off);
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
    const elf = readX86Elf(bytes, file);
    const showProgress = !args.quiet && process.stderr.isTTY === true && bytes.length > 1 << 20;
    const progress = showProgress ? (done: number) => process.stderr.write(`\rdecoding ${file}: ${Math.min(100, Math.floor((done * 100) / bytes.length))}%`) : undefined;
    // Output goes out in chunks: a whole listing of a large binary is more than one string can hold.
    const out = new ChunkedWriter();
    const strip = ({ section: _s, operands: _o, ...rest }: DecodedSite) => rest;
    if (args.json) {
      // The sensitive sites first (a fast walk), then, without --sensitive, every instruction.
      const sites: DecodedSite[] = [];
      disassembleElf(elf, (site) => { sites.push(site); }, undefined, args.sensitive ? progress : undefined, true);
      out.write(`{"file":${JSON.stringify(file)},"sites":${JSON.stringify(sites.map(strip))}`);
      if (!args.sensitive) {
        out.write(',"instructions":[');
        let first = true;
        disassembleElf(elf, (site) => {
          const { section: _s, ...rest } = site;
          out.write((first ? '' : ',') + JSON.stringify(rest));
          first = false;
        }, undefined, progress);
        out.write(']');
      }
      if (showProgress) process.stderr.write('\r\x1b[K');
      out.write('}\n');
      out.end();
      return;
    }
    let lastSection = '';
    let lines = 0;
    const line = (text: string) => { out.write(text + '\n'); lines++; };
    const sectionHeader = (name: string) => { if (name !== lastSection) { line(''); line(`Disassembly of section ${name}:`); lastSection = name; } };
    const width = elf.header.bits === 64 ? 16 : 8;
    disassembleElf(elf, (site, raw) => {
      const text = formatInstruction({ mnemonic: site.mnemonic, operandText: site.operands } as never);
      if (args.sensitive) {
        const where = site.symbol ? `<${site.symbol}+0x${hex(site.offset)}>` : `<${site.section}>`;
        line(`${hex(site.address).padStart(8, '0')} ${where}: ${text}\t[${site.class}]`);
        return;
      }
      sectionHeader(site.section);
      let bytesText = '';
      for (const b of raw) bytesText += (bytesText ? ' ' : '') + b.toString(16).padStart(2, '0');
      line(`${hex(site.address).padStart(8, ' ')}:\t${bytesText.padEnd(21, ' ')}\t${text}${site.class ? `\t# sensitive: ${site.class}` : ''}`);
    }, args.sensitive ? undefined : (section, address, name) => { sectionHeader(section); line(''); line(`${hex(address).padStart(width, '0')} <${name}>:`); }, progress, args.sensitive);
    if (showProgress) process.stderr.write('\r\x1b[K');
    if (args.sensitive && lines === 0) line(`${file}: no sensitive instructions`);
    if (!args.sensitive && lines === 0) line('');
    out.end();
  },
};

/** Collects output and hands it to stdout a megabyte at a time. */
class ChunkedWriter {
  private parts: string[] = [];
  private size = 0;
  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 1 << 20) this.flush();
  }
  end(): void { this.flush(); }
  private flush(): void {
    if (this.parts.length) process.stdout.write(this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

export default decodeCommand;
