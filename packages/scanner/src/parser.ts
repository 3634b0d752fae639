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

const NATIVE_ROOT_NODE = '__previrtNativeRootNode';

/**
 * tree-sitter's index.js replaces `Tree.prototype.rootNode`, a method of the shared native class, with
 * a getter that calls the method it found there. Evaluated a second time in the same process (jest runs
 * each test file in its own module registry), it finds its own getter instead and every `rootNode`
 * becomes undefined. Keep the native method on the class and put it back before each evaluation.
 */
function restoreNativeRootNode(): void {
  const root = dirname(require.resolve('tree-sitter/package.json'));
  const binding = (require('node-gyp-build') as (dir: string) => { Tree: { prototype: object } & Record<string, unknown> })(root);
  const Tree = binding.Tree;
  const desc = Object.getOwnPropertyDescriptor(Tree.prototype, 'rootNode');
  if (Tree[NATIVE_ROOT_NODE] === undefined) {
    if (desc && typeof desc.value === 'function') Tree[NATIVE_ROOT_NODE] = desc.value;
    return;
  }
  Object.defineProperty(Tree.prototype, 'rootNode', { value: Tree[NATIVE_ROOT_NODE], configurable: true, writable: true });
}

type NativeParserClass = new () => {
  setLanguage(lang: unknown): void;
  parse(text: string, old?: unknown, opts?: { bufferSize?: number }): SyntaxTree;
};

/** The binding as loaded in this module registry (once: a second evaluation would need the repair again). */
let nativeModules: { Parser: NativeParserClass; C: unknown } | undefined;

function loadNative(): CParser {
  if (!nativeModules) {
    restoreNativeRootNode();
    nativeModules = { Parser: require('tree-sitter') as NativeParserClass, C: require('tree-sitter-c') as unknown };
  }
  const { Parser, C } = nativeModules;
  const parser = new Parser();
  parser.setLanguage(C);
  if (!parser.parse('int x;', undefined, {}).rootNode) throw new Error('the native binding returns trees without a root node');
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
