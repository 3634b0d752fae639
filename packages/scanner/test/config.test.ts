// Configuration files: defaults, replacement of the keys a file names, and errors that name the file and key.
import { defaultConfig, resolveConfig, ConfigError } from '@previrt/scanner';

const bad = (raw: unknown) => {
  try {
    resolveConfig(raw, 'lint.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
};

test('no file gives the defaults; a file replaces only the keys it names', () => {
  expect(resolveConfig(undefined, 'x')).toEqual(defaultConfig());
  const c = resolveConfig({ exclude: ['build/**'], mode: 64, pageTable: { pteTypes: ['my_pte_t'] }, rules: { 'asm-sensitive': 'off' } }, 'x');
  expect(c.exclude).toEqual(['build/**']);
  expect(c.mode).toBe(64);
  expect(c.pageTable.pteTypes).toEqual(['my_pte_t']);
  expect(c.pageTable.pdeTypes).toEqual(defaultConfig().pageTable.pdeTypes);
  expect(c.rules).toEqual({ 'asm-sensitive': 'off' });
  const r = resolveConfig({ mmio: { deviceRanges: [['0xfe000000', '0x100000000']], accessors: [{ name: 'my_rd*', access: 'read', width: 16, address: 0 }] } }, 'x');
  expect(r.mmio.deviceRanges).toEqual([[0xfe000000, 0x100000000]]);
  expect(r.mmio.accessors).toEqual([{ name: 'my_rd*', access: 'read', width: 16, address: 0 }]);
});

test('mistakes are errors that name the file and the key', () => {
  expect(bad([])).toBe('lint.json: expected a JSON object');
  expect(bad({ exlude: [] })).toMatch(/^lint\.json: unknown key 'exlude' \(expected one of include, exclude/);
  expect(bad({ mode: 48 })).toBe('lint.json: mode: expected 16, 32 or 64');
  expect(bad({ rules: { 'no-such-rule': 'error' } })).toBe("lint.json: rules: unknown rule 'no-such-rule'");
  expect(bad({ rules: { 'pte-set': 'fatal' } })).toBe('lint.json: rules.pte-set: expected "error", "warning", "note" or "off"');
  expect(bad({ pageTable: { pteTypes: ['pte t'] } })).toBe("lint.json: pageTable: 'pte t' is not a C type name");
  expect(bad({ mmio: { accessors: [{ name: 'w', access: 'write', address: 1 }] } }))
    .toBe('lint.json: mmio.accessors[0].value: a write accessor needs the index of its value argument');
  expect(bad({ mmio: { deviceRanges: [[5, 1]] } })).toMatch(/^lint\.json: mmio\.deviceRanges: expected/);
  expect(bad({ pageTable: { helpers: [{ name: 'h', access: 'read' }] } })).toBe('lint.json: pageTable.helpers[0]: give exactly one of "lvalue" and "pointer"');
});
