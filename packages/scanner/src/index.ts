// @previrt/scanner: C-source annotation scanner (tree-sitter-c): unannotated sensitive code, text/JSON/SARIF output, --fix.
export const PACKAGE_NAME = '@previrt/scanner';
