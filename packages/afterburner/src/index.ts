// @previrt/afterburner: Assembler-level rewriter for GNU as (AT&T) text and the drop-in as/cc build hooks.
export const PACKAGE_NAME = '@previrt/afterburner';
