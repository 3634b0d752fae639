export * from './catalogue.js';
export * from './att.js';
export * from './decoder.js';
