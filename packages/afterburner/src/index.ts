// @previrt/afterburner: assembler-level rewriter for GNU as (AT&T) text and the drop-in as/cc build hooks.
export const PACKAGE_NAME = '@previrt/afterburner';
export { rewrite, type RewriteOptions, type RewriteResult, type Site, type Skipped, type Diagnostic, type ElfClass, type CodeMode } from './rewrite.js';
export { lexLine, type LexedLine, type Statement } from './lexer.js';
export { parseGasArgs, type GasArgs } from './gas-args.js';
export {
  planAssembly, runPlan, cleanup, needsStdin, findRealAssembler, SHIM_MARKER,
  type AsRequest, type AsPlan, type RunResult,
} from './assemble.js';
export { startServer, encodeFrame, decodeItems, PROTOCOL_VERSION, type ServerOptions } from './server.js';
export { ensureFrontEnd, skipReason, cacheRoot, type FrontEnd } from './native.js';
