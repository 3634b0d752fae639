// ELF constants (gABI, i386 and x86-64 psABI) and the names readelf prints for them.

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;

export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

export const EM_386 = 3;
export const EM_X86_64 = 62;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;
export const PN_XNUM = 0xffff;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_INIT_ARRAY = 14;
export const SHT_FINI_ARRAY = 15;
export const SHT_PREINIT_ARRAY = 16;
export const SHT_GROUP = 17;
export const SHT_SYMTAB_SHNDX = 18;
export const SHT_RELR = 19;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_MERGE = 0x10;
export const SHF_STRINGS = 0x20;
export const SHF_INFO_LINK = 0x40;
export const SHF_LINK_ORDER = 0x80;
export const SHF_GROUP = 0x200;
export const SHF_TLS = 0x400;
export const SHF_COMPRESSED = 0x800;

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_PHDR = 6;
export const PT_TLS = 7;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;

export const SECTION_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'NULL', 1: 'PROGBITS', 2: 'SYMTAB', 3: 'STRTAB', 4: 'RELA', 5: 'HASH', 6: 'DYNAMIC', 7: 'NOTE',
  8: 'NOBITS', 9: 'REL', 10: 'SHLIB', 11: 'DYNSYM', 14: 'INIT_ARRAY', 15: 'FINI_ARRAY',
  16: 'PREINIT_ARRAY', 17: 'GROUP', 18: 'SYMTAB SECTION INDICES', 19: 'RELR',
  0x6ffffff5: 'GNU_ATTRIBUTES', 0x6ffffff6: 'GNU_HASH', 0x6ffffff7: 'GNU_LIBLIST', 0x6ffffff8: 'CHECKSUM',
  0x6ffffffd: 'VERDEF', 0x6ffffffe: 'VERNEED', 0x6fffffff: 'VERSYM', 0x6fff4c03: 'LLVM_ADDRSIG',
  0x70000001: 'X86_64_UNWIND',
};

export const SEGMENT_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'NULL', 1: 'LOAD', 2: 'DYNAMIC', 3: 'INTERP', 4: 'NOTE', 5: 'SHLIB', 6: 'PHDR', 7: 'TLS',
  0x6474e550: 'GNU_EH_FRAME', 0x6474e551: 'GNU_STACK', 0x6474e552: 'GNU_RELRO', 0x6474e553: 'GNU_PROPERTY',
};

export const SYMBOL_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOTYPE', 1: 'OBJECT', 2: 'FUNC', 3: 'SECTION', 4: 'FILE', 5: 'COMMON', 6: 'TLS', 10: 'IFUNC',
};

export const SYMBOL_BIND_NAMES: Readonly<Record<number, string>> = { 0: 'LOCAL', 1: 'GLOBAL', 2: 'WEAK', 10: 'UNIQUE' };

export const SYMBOL_VISIBILITY_NAMES: Readonly<Record<number, string>> = { 0: 'DEFAULT', 1: 'INTERNAL', 2: 'HIDDEN', 3: 'PROTECTED' };

export const RELOC_386_NAMES: Readonly<Record<number, string>> = {
  0: 'R_386_NONE', 1: 'R_386_32', 2: 'R_386_PC32', 3: 'R_386_GOT32', 4: 'R_386_PLT32', 5: 'R_386_COPY',
  6: 'R_386_GLOB_DAT', 7: 'R_386_JUMP_SLOT', 8: 'R_386_RELATIVE', 9: 'R_386_GOTOFF', 10: 'R_386_GOTPC',
  11: 'R_386_32PLT', 14: 'R_386_TLS_TPOFF', 15: 'R_386_TLS_IE', 16: 'R_386_TLS_GOTIE', 17: 'R_386_TLS_LE',
  18: 'R_386_TLS_GD', 19: 'R_386_TLS_LDM', 20: 'R_386_16', 21: 'R_386_PC16', 22: 'R_386_8', 23: 'R_386_PC8',
  24: 'R_386_TLS_GD_32', 25: 'R_386_TLS_GD_PUSH', 26: 'R_386_TLS_GD_CALL', 27: 'R_386_TLS_GD_POP',
  28: 'R_386_TLS_LDM_32', 29: 'R_386_TLS_LDM_PUSH', 30: 'R_386_TLS_LDM_CALL', 31: 'R_386_TLS_LDM_POP',
  32: 'R_386_TLS_LDO_32', 33: 'R_386_TLS_IE_32', 34: 'R_386_TLS_LE_32', 35: 'R_386_TLS_DTPMOD32',
  36: 'R_386_TLS_DTPOFF32', 37: 'R_386_TLS_TPOFF32', 38: 'R_386_SIZE32', 39: 'R_386_TLS_GOTDESC',
  40: 'R_386_TLS_DESC_CALL', 41: 'R_386_TLS_DESC', 42: 'R_386_IRELATIVE', 43: 'R_386_GOT32X',
};

export const RELOC_X86_64_NAMES: Readonly<Record<number, string>> = {
  0: 'R_X86_64_NONE', 1: 'R_X86_64_64', 2: 'R_X86_64_PC32', 3: 'R_X86_64_GOT32', 4: 'R_X86_64_PLT32',
  5: 'R_X86_64_COPY', 6: 'R_X86_64_GLOB_DAT', 7: 'R_X86_64_JUMP_SLOT', 8: 'R_X86_64_RELATIVE',
  9: 'R_X86_64_GOTPCREL', 10: 'R_X86_64_32', 11: 'R_X86_64_32S', 12: 'R_X86_64_16', 13: 'R_X86_64_PC16',
  14: 'R_X86_64_8', 15: 'R_X86_64_PC8', 16: 'R_X86_64_DTPMOD64', 17: 'R_X86_64_DTPOFF64',
  18: 'R_X86_64_TPOFF64', 19: 'R_X86_64_TLSGD', 20: 'R_X86_64_TLSLD', 21: 'R_X86_64_DTPOFF32',
  22: 'R_X86_64_GOTTPOFF', 23: 'R_X86_64_TPOFF32', 24: 'R_X86_64_PC64', 25: 'R_X86_64_GOTOFF64',
  26: 'R_X86_64_GOTPC32', 27: 'R_X86_64_GOT64', 28: 'R_X86_64_GOTPCREL64', 29: 'R_X86_64_GOTPC64',
  30: 'R_X86_64_GOTPLT64', 31: 'R_X86_64_PLTOFF64', 32: 'R_X86_64_SIZE32', 33: 'R_X86_64_SIZE64',
  34: 'R_X86_64_GOTPC32_TLSDESC', 35: 'R_X86_64_TLSDESC_CALL', 36: 'R_X86_64_TLSDESC',
  37: 'R_X86_64_IRELATIVE', 38: 'R_X86_64_RELATIVE64', 41: 'R_X86_64_GOTPCRELX', 42: 'R_X86_64_REX_GOTPCRELX',
};

/** Bytes a relocation of this type patches (for reading REL implicit addends); 0 when not a plain field. */
export function relocationFieldSize(machine: number, type: number): number {
  if (machine === EM_386) {
    if ([1, 2, 3, 4, 9, 10, 11, 14, 15, 16, 17, 32, 33, 34, 35, 36, 37, 38, 43].includes(type)) return 4;
    if (type === 20 || type === 21) return 2;
    if (type === 22 || type === 23) return 1;
  }
  return 0;
}

/** Section flags as readelf -S -W prints them ("WAX", "AMS", ...). */
export function sectionFlagsString(flags: number, machine: number): string {
  let out = '';
  for (let bit = 0; bit < 64; bit++) {
    const flag = 2 ** bit;
    if (Math.floor(flags / flag) % 2 === 0) continue;
    switch (flag) {
      case 0x1: out += 'W'; break;
      case 0x2: out += 'A'; break;
      case 0x4: out += 'X'; break;
      case 0x10: out += 'M'; break;
      case 0x20: out += 'S'; break;
      case 0x40: out += 'I'; break;
      case 0x80: out += 'L'; break;
      case 0x100: out += 'O'; break;
      case 0x200: out += 'G'; break;
      case 0x400: out += 'T'; break;
      case 0x800: out += 'C'; break;
      case 0x200000: out += 'R'; break;
      case 0x80000000: out += 'E'; break;
      case 0x10000000: out += machine === EM_X86_64 ? 'l' : 'p'; break;
      default:
        out += flag >= 0x100000 && flag < 0x10000000 ? 'o' : flag >= 0x10000000 && flag <= 0x80000000 ? 'p' : 'x';
    }
  }
  return out;
}

/** Segment flags as readelf -l prints them ("R E", "RW "), without the spaces. */
export function segmentFlagsString(flags: number): string {
  return `${flags & PF_R ? 'R' : ''}${flags & PF_W ? 'W' : ''}${flags & PF_X ? 'E' : ''}`;
}
