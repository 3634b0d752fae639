// The tree-sitter loader: the native binding by default, the wasm grammar when the native binding
// cannot load (with the reason), and both see the same tree for the scanner.
import { loadCParser } from '@previrt/scanner';

test('the native binding loads by default', async () => {
  const p = await loadCParser();
  expect(p.backend).toBe('native');
  expect(p.fallbackReason).toBeUndefined();
});

test('when the native binding cannot load, the wasm grammar is used and the reason is kept', async () => {
  const p = await loadCParser('native', () => {
    throw new Error("Cannot find module 'tree-sitter'\nRequire stack: ...");
  });
  expect(p.backend).toBe('wasm');
  expect(p.fallbackReason).toBe("native tree-sitter binding did not load: Cannot find module 'tree-sitter'");
  const root = p.parse('void f(void) { asm volatile("cli"); }').rootNode;
  expect(root.type).toBe('translation_unit');
  expect(root.hasError).toBe(false);
});

test('both bindings report the same offsets (UTF-16) for text with non-ASCII characters', async () => {
  const text = '/* é😀 */ int x;\nvoid f(void) { asm("cli"); }\n';
  const at = text.indexOf('asm');
  for (const backend of ['native', 'wasm'] as const) {
    const p = await loadCParser(backend);
    const node = p.parse(text).rootNode.descendantForIndex(at, at + 3);
    expect({ backend, type: node.type, start: node.startIndex, parent: node.parent?.type }).toEqual({ backend, type: 'asm', start: at, parent: 'gnu_asm_expression' });
  }
});
