// Loads a tree-sitter C parser: the native binding (tree-sitter + tree-sitter-c) when it loads, else
// web-tree-sitter with the wasm grammar shipped in tree-sitter-c. Both report offsets in UTF-16 code
// units for JavaScript strings, so the scanner works on either through the SyntaxNode interface below.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The part of a tree-sitter node the scanner uses (common to the native and wasm bindings). */
export interface SyntaxNode {
  readonly type: string;
  readonly startIndex: number;
  readonly endIndex: number;
  readonly parent: SyntaxNode | null;
  readonly childCount: number;
  readonly namedChildCount: number;
  readonly isNamed: boolean;
  readonly hasError: boolean;
  child(index: number): SyntaxNode | null;
  namedChild(index: number): SyntaxNode | null;
  childForFieldName(name: string): SyntaxNode | null;
  childrenForFieldName(name: string): (SyntaxNode | null)[];
  descendantForIndex(start: number, end?: number): SyntaxNode;
}

export interface SyntaxTree {
  readonly rootNode: SyntaxNode;
  delete?(): void;
}

export type ParserBackend = 'native' | 'wasm';

export interface CParser {
  readonly backend: ParserBackend;
  /** Why the native binding was not used (only for the wasm backend). */
  readonly fallbackReason?: string;
  parse(text: string): SyntaxTree;
}

const require = createRequire(import.meta.url);

/** Chunk size handed to the native parser per read (measured: 64 KiB is as fast as any). */
const NATIVE_BUFFER_SIZE = 64 * 1024;

function loadNative(): CParser {
  const Parser = require('tree-sitter') as new () => {
    setLanguage(lang: unknown): void;
    parse(text: string, old?: unknown, opts?: { bufferSize?: number }): SyntaxTree;
  };
  const C = require('tree-sitter-c') as unknown;
  const parser = new Parser();
  parser.setLanguage(C);
  return {
    backend: 'native',
    parse: (text) => parser.parse(text, undefined, { bufferSize: NATIVE_BUFFER_SIZE }),
  };
}

async function loadWasm(fallbackReason?: string): Promise<CParser> {
  const wts = await import('web-tree-sitter');
  await wts.Parser.init();
  const wasmPath = join(dirname(require.resolve('tree-sitter-c/package.json')), 'tree-sitter-c.wasm');
  const C = await wts.Language.load(wasmPath);
  const parser = new wts.Parser();
  parser.setLanguage(C);
  return {
    backend: 'wasm',
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    parse: (text) => {
      const tree = parser.parse(text);
      if (!tree) throw new Error('web-tree-sitter returned no tree');
      return tree as unknown as SyntaxTree;
    },
  };
}

/**
 * The native parser unless it cannot load (or `prefer` is 'wasm'); then the wasm one, with the reason
 * the native binding failed. `native` loads the native binding (replaceable to test the fallback).
 */
export async function loadCParser(prefer: ParserBackend = 'native', native: () => CParser = loadNative): Promise<CParser> {
  if (prefer === 'wasm') return loadWasm();
  try {
    return native();
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    return loadWasm(`native tree-sitter binding did not load: ${reason}`);
  }
}
