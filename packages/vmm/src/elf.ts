// The loader's view of an ELF kernel: entry point and loadable segments. A small ELF32 program-header
// reader (the linker package's full reader serves the checks; the loader needs only this).
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

/** Reads the program headers of an ELF32 little-endian i386 executable. */
export function readElf32(bytes: Uint8Array): KernelImage {
  if (!isElf(bytes)) throw new ImageError('not an ELF file (no \\x7fELF magic)');
  if (bytes[4] !== 1) throw new ImageError(`ELF class ${bytes[4]} is not ELF32: the machine boots 32-bit kernels only`);
  if (bytes[5] !== 1) throw new ImageError('ELF file is not little-endian');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 52) throw new ImageError('ELF header truncated');
  const type = v.getUint16(16, true);
  const machine = v.getUint16(18, true);
  if (type !== 2) throw new ImageError(`ELF type ${type} is not an executable (ET_EXEC)`);
  if (machine !== 3) throw new ImageError(`ELF machine ${machine} is not i386 (3)`);
  const entry = v.getUint32(24, true);
  const phoff = v.getUint32(28, true);
  const phentsize = v.getUint16(42, true);
  const phnum = v.getUint16(44, true);
  if (phoff + phnum * phentsize > bytes.length) throw new ImageError('ELF program headers run past the end of the file');
  const segments: LoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (v.getUint32(o, true) !== 1) continue;
    const seg = {
      offset: v.getUint32(o + 4, true), vaddr: v.getUint32(o + 8, true), paddr: v.getUint32(o + 12, true),
      filesz: v.getUint32(o + 16, true), memsz: v.getUint32(o + 20, true),
    };
    if (seg.offset + seg.filesz > bytes.length) throw new ImageError(`ELF segment ${i} runs past the end of the file`);
    segments.push(seg);
  }
  return { entry, segments };
}
