// The machine's view of the decoder: the raw fields of the `@previrt/isa` decode contract. The
// execution engine builds its own executable form from these fields (prefixes, opcode map and byte,
// ModRM/SIB, displacement, immediates, operand and address size) once per basic block, so decoding
// stays off the hot path.
import { decode, type DecodedInstruction } from '@previrt/isa';

export type RawInstruction = Pick<DecodedInstruction,
  'length' | 'valid' | 'prefixes' | 'opcodeMap' | 'opcode' | 'modrm' | 'sib' | 'displacement' | 'immediate'
  | 'immediate2' | 'operandSize' | 'addressSize'> & { mnemonic?: string; operandText?: string };

export type RawDecoder = (bytes: Uint8Array, offset: number, mode: 16 | 32) => RawInstruction;

/** The `@previrt/isa` decoder. */
export const isaDecoder: RawDecoder = (bytes, offset, mode) => decode(bytes, offset, mode, 0);
