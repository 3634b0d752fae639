// @previrt/scanner: C-source annotation scanner (tree-sitter-c): unannotated sensitive code, text/JSON/SARIF output, --fix.
export const PACKAGE_NAME = '@previrt/scanner';
export * from './rules.js';
export * from './config.js';
export * from './parser.js';
export * from './text.js';
export { evalConstExpr, scanAsmText, unescapeCString, type AsmItem, type MappedText } from './asm.js';
export * from './scan.js';
export * from './fix.js';
export * from './diff.js';
export * from './format.js';
export * from './files.js';
export * from './config-file.js';
export { scanFiles, defaultJobs, type ScanFilesOptions, type ScanFilesResult } from './pool.js';
export { scanPath } from './scanfile.js';
export * from './lint.js';
