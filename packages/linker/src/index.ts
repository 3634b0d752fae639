// @previrt/linker: ELF32/ELF64 reader and writer, the .afterburn record format, linker-script fragment,
// annotation header, whole-binary check.
export const PACKAGE_NAME = '@previrt/linker';
export * from './afterburn.js';
export * from './header.js';
export * from './ldscript.js';
export * from './elf/constants.js';
export * from './elf/reader.js';
export * from './elf/writer.js';
