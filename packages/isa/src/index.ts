export * from './catalogue.js';
export * from './att.js';
export * from './builtins.js';
export * from './decoder.js';
export * from './encode.js';
export * from './control-flow.js';
export * from './patches.js';
