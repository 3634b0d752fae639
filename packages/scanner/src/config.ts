// Configuration of `previrt lint`: which files, which page-table types and accessors, which MMIO
// accessors, rule severities. Defaults fit Linux-style kernels; a project file
// (`.previrtrc.json` or `previrt.config.json`) replaces any top-level key it names.
import { isRuleId, SEVERITIES, type Severity } from './rules.js';

export type EntryLevel = 'pte' | 'pde';
export type CpuMode = 16 | 32 | 64;

/** A readl/writel-style function or macro: every call is one device-register access. */
export interface MmioAccessorSpec {
  /** Name, or a glob with `*`. */
  name: string;
  access: 'read' | 'write';
  /** Access width in bits; a fix is offered only for 8, 16 and 32 (the widths of the PV_MMIO macros). */
  width?: 8 | 16 | 32 | 64;
  /** Index of the address argument. */
  address: number;
  /** Index of the value argument (writes). */
  value?: number;
  /** False when the call may also do something else (ioread32 may do port I/O): report, never fix. */
  fixable?: boolean;
}

/**
 * A function or macro that accesses memory given to it: through an lvalue argument (READ_ONCE(x),
 * WRITE_ONCE(x, v)) or a pointer argument (xchg(p, v), test_and_clear_bit(nr, p)). When that argument
 * is a page-table entry, the call is an access to it.
 */
export interface AccessHelperSpec {
  name: string;
  access: 'read' | 'write' | 'test-and-clear';
  lvalue?: number;
  pointer?: number;
  value?: number;
  bit?: number;
  /** The call is an annotatable single access (READ_ONCE/WRITE_ONCE/test_and_clear_bit), not an atomic sequence. */
  fixable?: boolean;
}

export interface LintConfig {
  /** Globs (relative to each directory argument) of the files to scan. */
  include: string[];
  /** Globs excluded from the scan, in addition to .gitignore. */
  exclude: string[];
  /** Honour .gitignore files. */
  gitignore: boolean;
  /** CPU mode for decoding .byte encodings (a `.code16/32/64` directive overrides it locally). */
  mode: CpuMode;
  pageTable: {
    /** Types of page-table entries (last level). */
    pteTypes: string[];
    /** Types of upper-level entries (page directory, pmd, pud, p4d, pgd). */
    pdeTypes: string[];
    /** Setter functions/macros for PTEs: their bodies are the page-table writes (names or globs). */
    pteSetters: string[];
    /** Setter functions/macros for upper-level entries. */
    pdeSetters: string[];
    helpers: AccessHelperSpec[];
  };
  mmio: {
    /** Report dereferences of pointers to volatile (casts of device addresses, volatile pointer variables). */
    volatile: boolean;
    /**
     * Address ranges [start, end) that hold devices. A volatile access through a constant address
     * (a number, or a macro defined in the same file) is a device access only inside one of them;
     * outside, it is ordinary memory (the BIOS data area, a test page).
     */
    deviceRanges: [number, number][];
    /** Functions that return ordinary memory (the kernel's direct map, allocators): volatile accesses through them are not MMIO. */
    memoryFunctions: string[];
    /**
     * Report accesses through parameters declared as pointers to volatile. Off by default: such
     * parameters belong to generic code (bitops, cmpxchg) that works on whatever memory it is given.
     */
    volatileParameters: boolean;
    accessors: MmioAccessorSpec[];
  };
  /** Severity per rule id, or "off". */
  rules: Record<string, Severity | 'off'>;
}

function mmioFamily(prefix: string, access: 'read' | 'write', fixable = true): MmioAccessorSpec[] {
  const widths: [string, 8 | 16 | 32 | 64][] = [['b', 8], ['w', 16], ['l', 32], ['q', 64]];
  return widths.map(([suffix, width]) => access === 'read'
    ? { name: `${prefix}${suffix}`, access, width, address: 0, fixable }
    : { name: `${prefix}${suffix}`, access, width, address: 1, value: 0, fixable });
}

function ioFamily(access: 'read' | 'write'): MmioAccessorSpec[] {
  const names: [string, 8 | 16 | 32 | 64][] = [['8', 8], ['16', 16], ['32', 32], ['64', 64], ['16be', 16], ['32be', 32], ['64be', 64]];
  // ioread/iowrite may do port I/O (iomap cookies), so the call cannot simply become an MMIO macro.
  return names.map(([suffix, width]) => access === 'read'
    ? { name: `ioread${suffix}`, access, width, address: 0, fixable: false }
    : { name: `iowrite${suffix}`, access, width, address: 1, value: 0, fixable: false });
}

export function defaultConfig(): LintConfig {
  return {
    include: ['**/*.c', '**/*.h', '**/*.S', '**/*.s'],
    exclude: [],
    gitignore: true,
    mode: 32,
    pageTable: {
      pteTypes: ['pte_t'],
      pdeTypes: ['pde_t', 'pmd_t', 'pud_t', 'p4d_t', 'pgd_t'],
      pteSetters: ['set_pte', 'set_pte_*', 'native_set_pte', 'native_set_pte_*', 'pte_clear', 'native_pte_clear'],
      pdeSetters: [
        'set_pde', 'set_pde_*', 'set_pmd', 'set_pmd_*', 'set_pud', 'set_pud_*', 'set_p4d', 'set_p4d_*', 'set_pgd', 'set_pgd_*',
        'native_set_pmd', 'native_set_pmd_*', 'native_set_pud', 'native_set_pud_*', 'native_set_p4d', 'native_set_p4d_*',
        'native_set_pgd', 'native_set_pgd_*', 'pmd_clear', 'pud_clear', 'p4d_clear', 'pgd_clear',
        'native_pmd_clear', 'native_pud_clear', 'native_p4d_clear', 'native_pgd_clear',
      ],
      helpers: [
        { name: 'READ_ONCE', access: 'read', lvalue: 0, fixable: true },
        { name: '__READ_ONCE', access: 'read', lvalue: 0, fixable: true },
        { name: 'WRITE_ONCE', access: 'write', lvalue: 0, value: 1, fixable: true },
        { name: '__WRITE_ONCE', access: 'write', lvalue: 0, value: 1, fixable: true },
        { name: 'test_and_clear_bit', access: 'test-and-clear', pointer: 1, bit: 0, fixable: true },
        { name: 'test_and_set_bit', access: 'write', pointer: 1, bit: 0 },
        { name: 'clear_bit', access: 'write', pointer: 1, bit: 0 },
        { name: 'set_bit', access: 'write', pointer: 1, bit: 0 },
        { name: 'change_bit', access: 'write', pointer: 1, bit: 0 },
        { name: 'set_64bit', access: 'write', pointer: 0, value: 1 },
        { name: 'xchg', access: 'write', pointer: 0, value: 1 },
        { name: 'cmpxchg', access: 'write', pointer: 0 },
        { name: 'cmpxchg64', access: 'write', pointer: 0 },
        { name: 'try_cmpxchg', access: 'write', pointer: 0 },
        { name: 'try_cmpxchg64', access: 'write', pointer: 0 },
      ],
    },
    mmio: {
      volatile: true,
      // The legacy VGA/ROM window, and the I/O APIC, HPET and local APIC area up to 4 GiB.
      deviceRanges: [[0xa0000, 0x100000], [0xfec00000, 0x100000000]],
      volatileParameters: false,
      memoryFunctions: [
        'phys_to_virt', '__va', 'page_address', 'lowmem_page_address', 'kmap', 'kmap_local_page', 'kmap_atomic',
        'kmalloc', 'kmalloc_*', 'kzalloc', 'kzalloc_*', 'kcalloc', 'kvmalloc', 'kvzalloc', 'vmalloc', 'vzalloc',
        'malloc', 'calloc', 'alloca', '__builtin_alloca', 'memset', 'memcpy',
      ],
      accessors: [
        ...mmioFamily('read', 'read'),
        ...mmioFamily('__raw_read', 'read'),
        ...mmioFamily('write', 'write'),
        ...mmioFamily('__raw_write', 'write'),
        // The _relaxed forms are the same single access without the ordering barrier.
        ...mmioFamily('read', 'read').map((s) => ({ ...s, name: `${s.name}_relaxed` })),
        ...mmioFamily('write', 'write').map((s) => ({ ...s, name: `${s.name}_relaxed` })),
        ...ioFamily('read'),
        ...ioFamily('write'),
        { name: 'memcpy_fromio', access: 'read', address: 1, fixable: false },
        { name: 'memcpy_toio', access: 'write', address: 0, fixable: false },
        { name: 'memset_io', access: 'write', address: 0, fixable: false },
      ],
    },
    rules: {},
  };
}

/** A configuration problem, reported with the file and the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: Json, where: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new ConfigError(`${where}: expected an array of non-empty strings`);
  }
  return v as string[];
}

function checkKeys(obj: Record<string, Json>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (key === '$schema' || key === '//') continue;
    if (!allowed.includes(key)) throw new ConfigError(`${where}: unknown key '${key}' (expected one of ${allowed.join(', ')})`);
  }
}

function argIndex(v: Json, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 15) throw new ConfigError(`${where}: expected an argument index 0..15`);
  return v;
}

function mmioAccessor(v: Json, where: string): MmioAccessorSpec {
  if (!isObject(v)) throw new ConfigError(`${where}: expected an object {name, access, width?, address, value?, fixable?}`);
  checkKeys(v, ['name', 'access', 'width', 'address', 'value', 'fixable'], where);
  if (typeof v.name !== 'string' || v.name === '') throw new ConfigError(`${where}.name: expected a function name or glob`);
  if (v.access !== 'read' && v.access !== 'write') throw new ConfigError(`${where}.access: expected "read" or "write"`);
  const spec: MmioAccessorSpec = { name: v.name, access: v.access, address: argIndex(v.address, `${where}.address`) };
  if (v.width !== undefined) {
    if (v.width !== 8 && v.width !== 16 && v.width !== 32 && v.width !== 64) throw new ConfigError(`${where}.width: expected 8, 16, 32 or 64`);
    spec.width = v.width;
  }
  if (v.value !== undefined) spec.value = argIndex(v.value, `${where}.value`);
  else if (v.access === 'write') throw new ConfigError(`${where}.value: a write accessor needs the index of its value argument`);
  if (v.fixable !== undefined) {
    if (typeof v.fixable !== 'boolean') throw new ConfigError(`${where}.fixable: expected true or false`);
    spec.fixable = v.fixable;
  }
  return spec;
}

function accessHelper(v: Json, where: string): AccessHelperSpec {
  if (!isObject(v)) throw new ConfigError(`${where}: expected an object {name, access, lvalue? | pointer?, value?, bit?, fixable?}`);
  checkKeys(v, ['name', 'access', 'lvalue', 'pointer', 'value', 'bit', 'fixable'], where);
  if (typeof v.name !== 'string' || v.name === '') throw new ConfigError(`${where}.name: expected a function or macro name`);
  if (v.access !== 'read' && v.access !== 'write' && v.access !== 'test-and-clear') {
    throw new ConfigError(`${where}.access: expected "read", "write" or "test-and-clear"`);
  }
  const spec: AccessHelperSpec = { name: v.name, access: v.access };
  if ((v.lvalue === undefined) === (v.pointer === undefined)) throw new ConfigError(`${where}: give exactly one of "lvalue" and "pointer"`);
  if (v.lvalue !== undefined) spec.lvalue = argIndex(v.lvalue, `${where}.lvalue`);
  if (v.pointer !== undefined) spec.pointer = argIndex(v.pointer, `${where}.pointer`);
  if (v.value !== undefined) spec.value = argIndex(v.value, `${where}.value`);
  if (v.bit !== undefined) spec.bit = argIndex(v.bit, `${where}.bit`);
  if (v.fixable !== undefined) {
    if (typeof v.fixable !== 'boolean') throw new ConfigError(`${where}.fixable: expected true or false`);
    spec.fixable = v.fixable;
  }
  return spec;
}

/**
 * Validates a parsed configuration file and merges it over the defaults. `source` names the file in
 * error messages. Unknown keys are errors (a typo must not silently disable a check).
 */
export function resolveConfig(raw: Json, source: string): LintConfig {
  const config = defaultConfig();
  if (raw === undefined) return config;
  if (!isObject(raw)) throw new ConfigError(`${source}: expected a JSON object`);
  checkKeys(raw, ['include', 'exclude', 'gitignore', 'mode', 'pageTable', 'mmio', 'rules'], source);
  if (raw.include !== undefined) config.include = stringList(raw.include, `${source}: include`);
  if (raw.exclude !== undefined) config.exclude = stringList(raw.exclude, `${source}: exclude`);
  if (raw.gitignore !== undefined) {
    if (typeof raw.gitignore !== 'boolean') throw new ConfigError(`${source}: gitignore: expected true or false`);
    config.gitignore = raw.gitignore;
  }
  if (raw.mode !== undefined) {
    if (raw.mode !== 16 && raw.mode !== 32 && raw.mode !== 64) throw new ConfigError(`${source}: mode: expected 16, 32 or 64`);
    config.mode = raw.mode;
  }
  if (raw.pageTable !== undefined) {
    const pt = raw.pageTable;
    const where = `${source}: pageTable`;
    if (!isObject(pt)) throw new ConfigError(`${where}: expected an object`);
    checkKeys(pt, ['pteTypes', 'pdeTypes', 'pteSetters', 'pdeSetters', 'helpers'], where);
    if (pt.pteTypes !== undefined) config.pageTable.pteTypes = stringList(pt.pteTypes, `${where}.pteTypes`);
    if (pt.pdeTypes !== undefined) config.pageTable.pdeTypes = stringList(pt.pdeTypes, `${where}.pdeTypes`);
    if (pt.pteSetters !== undefined) config.pageTable.pteSetters = stringList(pt.pteSetters, `${where}.pteSetters`);
    if (pt.pdeSetters !== undefined) config.pageTable.pdeSetters = stringList(pt.pdeSetters, `${where}.pdeSetters`);
    if (pt.helpers !== undefined) {
      if (!Array.isArray(pt.helpers)) throw new ConfigError(`${where}.helpers: expected an array`);
      config.pageTable.helpers = pt.helpers.map((h, i) => accessHelper(h, `${where}.helpers[${i}]`));
    }
    for (const t of [...config.pageTable.pteTypes, ...config.pageTable.pdeTypes]) {
      if (!/^[A-Za-z_]\w*$/.test(t)) throw new ConfigError(`${where}: '${t}' is not a C type name`);
    }
  }
  if (raw.mmio !== undefined) {
    const m = raw.mmio;
    const where = `${source}: mmio`;
    if (!isObject(m)) throw new ConfigError(`${where}: expected an object`);
    checkKeys(m, ['volatile', 'volatileParameters', 'deviceRanges', 'memoryFunctions', 'accessors'], where);
    if (m.volatileParameters !== undefined) {
      if (typeof m.volatileParameters !== 'boolean') throw new ConfigError(`${where}.volatileParameters: expected true or false`);
      config.mmio.volatileParameters = m.volatileParameters;
    }
    if (m.deviceRanges !== undefined) {
      const bad = () => new ConfigError(`${where}.deviceRanges: expected an array of [start, end) pairs of numbers or "0x..." strings`);
      if (!Array.isArray(m.deviceRanges)) throw bad();
      config.mmio.deviceRanges = m.deviceRanges.map((r) => {
        if (!Array.isArray(r) || r.length !== 2) throw bad();
        const [a, b] = r.map((v) => (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : v));
        if (typeof a !== 'number' || typeof b !== 'number' || !(a >= 0) || !(b > a)) throw bad();
        return [a, b] as [number, number];
      });
    }
    if (m.memoryFunctions !== undefined) config.mmio.memoryFunctions = stringList(m.memoryFunctions, `${where}.memoryFunctions`);
    if (m.volatile !== undefined) {
      if (typeof m.volatile !== 'boolean') throw new ConfigError(`${where}.volatile: expected true or false`);
      config.mmio.volatile = m.volatile;
    }
    if (m.accessors !== undefined) {
      if (!Array.isArray(m.accessors)) throw new ConfigError(`${where}.accessors: expected an array`);
      config.mmio.accessors = m.accessors.map((a, i) => mmioAccessor(a, `${where}.accessors[${i}]`));
    }
  }
  if (raw.rules !== undefined) {
    const r = raw.rules;
    if (!isObject(r)) throw new ConfigError(`${source}: rules: expected an object {"rule-id": "error" | "warning" | "note" | "off"}`);
    for (const [id, sev] of Object.entries(r)) {
      if (!isRuleId(id)) throw new ConfigError(`${source}: rules: unknown rule '${id}'`);
      if (sev !== 'off' && !SEVERITIES.includes(sev as Severity)) {
        throw new ConfigError(`${source}: rules.${id}: expected "error", "warning", "note" or "off"`);
      }
      config.rules[id] = sev as Severity | 'off';
    }
  }
  return config;
}

/** Names of the configuration files looked for, in order, in the current directory and its parents. */
export const CONFIG_FILE_NAMES = ['.previrtrc.json', 'previrt.config.json'] as const;
