// The lines worth looking at, found by one regular expression over the whole input: V8 runs it as
// native code, so the ~90% of compiler output that cannot matter (ordinary moves, arithmetic,
// jumps, data directives, labels) is skipped without a JavaScript step per line. The pattern is a
// superset: every line it leaves out is one the rewriter would leave unchanged and unrecorded, and
// each line it finds is still parsed in full. What makes a line worth looking at:
//  - its first word (after any labels) is a mnemonic that may be sensitive, per the isa catalogue
//    (mov/push/pop only with a segment, control or debug register on the line; jmp/call only with a
//    `$` on the line, for the direct far form `jmp $sel,$off`), a prefix, a directive the rewriter acts
//    on, or a macro defined so far;
//  - its first character (after labels) starts neither a word nor a comment (a stray symbol);
//  - it has a `;` (statement separator), a `/*` or a `/` in the first column (comments the lexer
//    must see), or a `# previrt:` marker comment.
// Macro and repeat bodies (where `\param` may stand for anything), Intel syntax and the inside of C
// block comments are not covered: there the caller looks at lines one by one.
import { ATT_PREFIXES, ATT_SPECIAL_REGISTER_SOURCE, attMnemonicGroups } from '@previrt/isa';

const GROUPS = attMnemonicGroups();

function escape(word: string): string {
  return word.replace(/[.$\\^*+?()[\]{}|/]/g, '\\$&');
}

/** `a|b|c`, longest first (alternatives are tried in order; the lookahead after them needs whole words). */
function alternatives(words: Iterable<string>): string {
  return [...new Set(words)].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).map(escape).join('|');
}

const END_OF_WORD = '(?![\\w.$])';
const UNCONDITIONAL = alternatives([...GROUPS.unconditional, ...ATT_PREFIXES]);
const WITH_SPECIAL = alternatives(GROUPS.withSpecialRegister);
const WITH_IMMEDIATES = alternatives(GROUPS.withImmediates);

// Compiled patterns, by directive and macro names: compiling one costs more than scanning a large
// file with it. (Callers set lastIndex before every exec, so sharing them is safe.)
const compiled = new Map<string, RegExp>();

/**
 * The pattern (flags `gi`) for `directives` (lower case, with their dot) and the macro names defined
 * so far. A match lies on a line worth looking at, or starts with the newline just before one (the
 * pattern looks for line starts after a newline, which V8 runs faster than a multiline `^`: start
 * the search at the newline that ends the previous line, and look at the first line of an input
 * separately); lines without a match are not worth looking at.
 */
export function candidatePattern(directives: Iterable<string>, macroNames: Iterable<string>): RegExp {
  const dirs = [...directives];
  const macros = [...macroNames];
  const key = `${dirs.join(' ')}\n${macros.join(' ')}`;
  let re = compiled.get(key);
  if (re === undefined) {
    if (compiled.size >= 64) compiled.clear();
    re = build(dirs, macros);
    compiled.set(key, re);
  }
  return re;
}

function build(directives: string[], macros: string[]): RegExp {
  const firstWord = [
    `[^\\w.$# \\t\\r\\n]`,
    `(?:${alternatives(directives)})${END_OF_WORD}`,
    `(?:${UNCONDITIONAL})${END_OF_WORD}`,
    `(?:${WITH_IMMEDIATES})${END_OF_WORD}[^\\n]*\\$`,
    `(?:${WITH_SPECIAL})${END_OF_WORD}[^\\n]*${ATT_SPECIAL_REGISTER_SOURCE}`,
    ...(macros.length > 0 ? [`(?:${alternatives(macros)})${END_OF_WORD}`] : []),
  ];
  const statementStart = `\\n[ \\t]*(?:[\\w.$]+[ \\t]*:(?![:=])[ \\t]*)*(?:${firstWord.join('|')})`;
  const anywhere = `;|/\\*|\\n/|#[^\\S\\n]*previrt:`;
  return new RegExp(`${statementStart}|${anywhere}`, 'gi');
}
