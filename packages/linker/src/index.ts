// @previrt/linker: ELF32/ELF64 reader and writer, the .afterburn record format, linker-script fragment,
// annotation header, whole-binary check.
export const PACKAGE_NAME = '@previrt/linker';
export * from './afterburn.js';
export * from './header.js';
export * from './ldscript.js';
export * from './elf/constants.js';
export * from './elf/reader.js';
export * from './elf/writer.js';
export * from './dwarf/line.js';
export { checkElf, formatCheckText, summaryLine, type CheckResult, type CheckOptions, type UncoveredSite, type BadRecord, type ExcludedSite } from './check/check.js';
export { buildCheckImage, CheckInputError, type CheckImage, type PlacedRecord } from './check/image.js';
export { discoverCode, type CodeMap } from './check/discover.js';
export * from './inspect.js';
export * from './fuzz.js';
