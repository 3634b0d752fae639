// The `.afterburn` record format, version 1: the versioned source of truth (documented in
// packages/linker/README.md). One table per object in section `.afterburn` (instruction sites) and
// `.afterburn.<kind-name>` (annotated memory operations); allocatable, non-executable, little-endian,
// no header:
//   ELF32 { u32 site_address; u8 insn_len; u8 site_len; u16 kind }            8 bytes, 4-aligned
//   ELF64 { u64 site_address; u8 insn_len; u8 site_len; u16 kind; u32 zero }  16 bytes, 8-aligned
// `kind` is a catalogue id from @previrt/isa: SENSITIVE_CLASSES[i].id (1..0xff),
// MEMORY_OPERATION_KINDS[i].id (0x101..) or ANNOTATED_INSTRUCTION_KINDS[i].id (0x180..). The linker-script fragment gathers every input table into
// one output section between `__afterburn_start` and `__afterburn_end`.

export const AFTERBURN_FORMAT_VERSION = 1;
export const AFTERBURN_SECTION = '.afterburn';
/**
 * Instructions left alone on purpose (between the exclusion markers): same record layout, in a
 * non-allocated section whose name stays out of the loader's table (it does not match `.afterburn.*`).
 * `previrt check` lists these as excluded instead of uncovered.
 */
export const AFTERBURN_EXCLUDED_SECTION = '.afterburn_excluded';
export const AFTERBURN_START_SYMBOL = '__afterburn_start';
export const AFTERBURN_END_SYMBOL = '__afterburn_end';

export type ElfClassBits = 32 | 64;

export interface AfterburnRecord {
  /** Address of the first byte of the sensitive instruction (or annotated access). */
  siteAddress: number;
  /** Length of the instruction itself. */
  insnLen: number;
  /** Instruction plus NOP padding: the bytes the in-place VMM may rewrite. */
  siteLen: number;
  /** Catalogue id: instruction class or memory-operation kind. */
  kind: number;
}

/** Size of one record in bytes. */
export function afterburnRecordSize(bits: ElfClassBits): number {
  return bits === 64 ? 16 : 8;
}

/** Alignment of a record table. */
export function afterburnAlignment(bits: ElfClassBits): number {
  return bits === 64 ? 8 : 4;
}

/** Whether a section name holds records (`.afterburn` or `.afterburn.<kind-name>`). */
export function isAfterburnSectionName(name: string): boolean {
  return name === AFTERBURN_SECTION || name.startsWith(`${AFTERBURN_SECTION}.`);
}

export class AfterburnFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AfterburnFormatError';
  }
}

/** Encodes records as one table. Throws on a field out of range. */
export function encodeAfterburn(records: readonly AfterburnRecord[], bits: ElfClassBits): Uint8Array {
  const size = afterburnRecordSize(bits);
  const out = new Uint8Array(records.length * size);
  const view = new DataView(out.buffer);
  records.forEach((r, i) => {
    const at = i * size;
    const maxAddress = bits === 64 ? Number.MAX_SAFE_INTEGER : 0xffffffff;
    if (!Number.isInteger(r.siteAddress) || r.siteAddress < 0 || r.siteAddress > maxAddress) {
      throw new AfterburnFormatError(`record ${i}: site address ${r.siteAddress} does not fit ELF${bits}`);
    }
    for (const [field, value, max] of [['insn_len', r.insnLen, 0xff], ['site_len', r.siteLen, 0xff], ['kind', r.kind, 0xffff]] as const) {
      if (!Number.isInteger(value) || value < 0 || value > max) {
        throw new AfterburnFormatError(`record ${i}: ${field} ${value} is out of range 0..${max}`);
      }
    }
    if (bits === 64) {
      view.setBigUint64(at, BigInt(r.siteAddress), true);
      view.setUint8(at + 8, r.insnLen);
      view.setUint8(at + 9, r.siteLen);
      view.setUint16(at + 10, r.kind, true);
      view.setUint32(at + 12, 0, true);
    } else {
      view.setUint32(at, r.siteAddress, true);
      view.setUint8(at + 4, r.insnLen);
      view.setUint8(at + 5, r.siteLen);
      view.setUint16(at + 6, r.kind, true);
    }
  });
  return out;
}

/**
 * Decodes a table. `where` names the file and section in errors. Throws AfterburnFormatError when
 * the size is not a whole number of records, an ELF64 reserved word is not zero, or an address does
 * not fit a JavaScript number.
 */
export function decodeAfterburn(bytes: Uint8Array, bits: ElfClassBits, where = AFTERBURN_SECTION): AfterburnRecord[] {
  const size = afterburnRecordSize(bits);
  if (bytes.length % size !== 0) {
    throw new AfterburnFormatError(`${where}: size ${bytes.length} is not a multiple of the ${size}-byte ELF${bits} record`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: AfterburnRecord[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    if (bits === 64) {
      const address = view.getBigUint64(at, true);
      if (address > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new AfterburnFormatError(`${where}: record at offset ${at}: site address 0x${address.toString(16)} is beyond 2^53`);
      }
      const zero = view.getUint32(at + 12, true);
      if (zero !== 0) throw new AfterburnFormatError(`${where}: record at offset ${at}: reserved word is 0x${zero.toString(16)}, expected 0`);
      records.push({ siteAddress: Number(address), insnLen: view.getUint8(at + 8), siteLen: view.getUint8(at + 9), kind: view.getUint16(at + 10, true) });
    } else {
      records.push({ siteAddress: view.getUint32(at, true), insnLen: view.getUint8(at + 4), siteLen: view.getUint8(at + 5), kind: view.getUint16(at + 6, true) });
    }
  }
  return records;
}
