// Test helpers: the catalogue and a seeded generator (from the fuzzer's module).
export { SENSITIVE_CLASSES, MEMORY_OPERATION_KINDS } from '@previrt/isa';
export { seededRandom as seededRandomForTest } from '@previrt/linker';
