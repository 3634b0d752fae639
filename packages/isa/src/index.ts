export * from './catalogue.js';
export * from './att.js';
