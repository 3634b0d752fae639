// The loader's view of an ELF kernel: entry point and loadable segments, read with the linker
// package's ELF reader (the one ELF reader of previrt).
import { parseElf, ElfError } from '@previrt/linker';

export interface LoadSegment {
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
}

export interface KernelImage {
  entry: number;
  segments: LoadSegment[];
}

export class ImageError extends Error {}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

const PT_LOAD = 1;

/** Entry point and PT_LOAD segments of an ELF32 i386 executable. */
export function readElf32(bytes: Uint8Array): KernelImage {
  if (!isElf(bytes)) throw new ImageError('not an ELF file (no \\x7fELF magic)');
  let elf;
  try {
    elf = parseElf(bytes, 'kernel');
  } catch (err) {
    if (err instanceof ElfError) throw new ImageError(err.message.replace(/^kernel: /, ''));
    throw err;
  }
  const h = elf.header;
  if (h.bits !== 32) throw new ImageError(`ELF class ${h.bits}-bit is not ELF32: the machine boots 32-bit kernels only`);
  if (h.type !== 2) throw new ImageError(`ELF type ${h.type} is not an executable (ET_EXEC)`);
  if (h.machine !== 3) throw new ImageError(`ELF machine ${h.machine} is not i386 (3)`);
  const segments = elf.segments.filter((s) => s.type === PT_LOAD).map((s) => ({
    offset: s.offset, vaddr: s.vaddr, paddr: s.paddr, filesz: s.filesz, memsz: s.memsz,
  }));
  for (const s of segments) {
    if (s.offset + s.filesz > bytes.length) throw new ImageError(`an ELF segment runs past the end of the file (offset 0x${s.offset.toString(16)})`);
  }
  return { entry: h.entry, segments };
}
