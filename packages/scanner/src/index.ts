// @previrt/scanner: C-source annotation scanner (tree-sitter-c): unannotated sensitive code, text/JSON/SARIF output, --fix.
export const PACKAGE_NAME = '@previrt/scanner';
export * from './rules.js';
export * from './config.js';
export * from './parser.js';
export * from './text.js';
export { decoderAvailable, evalConstExpr, scanAsmText, unescapeCString, type AsmItem, type MappedText } from './asm.js';
export * from './scan.js';
