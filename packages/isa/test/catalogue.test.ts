import { SENSITIVE_CLASSES, MEMORY_OPERATION_KINDS, classifyAtt, splitAttStatement, splitAttOperands, kindName } from '@previrt/isa';

describe('sensitive-instruction catalogue', () => {
  test('ids and names are unique, instruction and memory-operation ranges are separate', () => {
    const ids = [...SENSITIVE_CLASSES.map((c) => c.id), ...MEMORY_OPERATION_KINDS.map((k) => k.id)];
    expect(new Set(ids).size).toBe(ids.length);
    const names = [...SENSITIVE_CLASSES.map((c) => c.name), ...MEMORY_OPERATION_KINDS.map((k) => k.name)];
    expect(new Set(names).size).toBe(names.length);
    for (const c of SENSITIVE_CLASSES) expect(c.id).toBeLessThan(0x100);
    for (const k of MEMORY_OPERATION_KINDS) expect(k.id).toBeGreaterThanOrEqual(0x100);
  });

  test('every class has room for at least a call rel32 patch', () => {
    for (const c of SENSITIVE_CLASSES) expect(c.siteSize).toBeGreaterThanOrEqual(5);
  });

  test.each([
    ['cli', [], 'cli'],
    ['pushfl', [], 'pushf'],
    ['movl', ['%eax', '%cr3'], 'mov-to-cr'],
    ['mov', ['%cr2', '%eax'], 'mov-from-cr'],
    ['mov', ['%eax', '%db7'], 'mov-to-dr'],
    ['movw', ['%ax', '%ds'], 'mov-to-segment'],
    ['mov', ['%ds', '(%eax)'], 'mov-from-segment'],
    ['push', ['%fs'], 'push-segment'],
    ['popl', ['%es'], 'pop-segment'],
    ['ljmp', ['$0x10', '$1f'], 'ljmp'],
    ['jmp', ['$0x10', '$1f'], 'ljmp'],
    ['inb', ['%dx', '%al'], 'in'],
    ['outsb', [], 'outs'],
    ['int', ['$0x80'], 'int'],
    ['INVLPG', ['(%EAX)'], 'invlpg'],
  ])('%s %j is %s', (m, ops, name) => {
    expect(classifyAtt(m, ops)?.name).toBe(name);
  });

  test.each([
    ['movl', ['%eax', '%ebx']],
    ['push', ['%eax']],
    ['int3x', []],
    ['jmp', ['1f']],
    ['inc', ['%eax']],
  ])('%s %j is not sensitive', (m, ops) => {
    expect(classifyAtt(m, ops)).toBeNull();
  });

  test('statement and operand splitting', () => {
    expect(splitAttStatement('rep outsb')).toEqual({ prefixes: ['rep'], mnemonic: 'outsb', rest: '' });
    expect(splitAttStatement('lock incl (%eax)')).toEqual({ prefixes: ['lock'], mnemonic: 'incl', rest: '(%eax)' });
    expect(splitAttOperands('%eax, 4(%ebx,%ecx,4)')).toEqual(['%eax', '4(%ebx,%ecx,4)']);
    expect(kindName(1)).toBe('cli');
    expect(kindName(0x101)).toBe('pte-set');
  });
});
