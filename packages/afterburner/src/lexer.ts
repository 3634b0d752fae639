// Splits one line of GNU as (x86, AT&T) input into statements the way the assembler does: `;`
// separates statements, `#` starts a comment that runs to the end of the line, `/* */` comments may
// span lines, strings ("...") and character constants ('c) hide all of these. A `/` in the first
// column that does not open a C comment is a line comment (i386 `line_comment_chars`).

export interface Statement {
  /** Offset of the statement's first character in the line. */
  start: number;
  /** Offset just past the statement's last code character (trailing comments and blanks excluded). */
  codeEnd: number;
  /** The statement's code with comments blanked out (same offsets as the line). */
  code: string;
}

export interface LexedLine {
  statements: Statement[];
  /** Text of every comment on the line (without the comment markers). */
  comments: string[];
  /** Whether the line ends inside a C block comment. */
  inBlockComment: boolean;
  /** Whether a string was left open at the end of the line. */
  unterminatedString: boolean;
}

const INTERESTING = /["'#;/]/;

/**
 * Lexes one line (without its newline). `inBlockComment` says whether the previous line ended inside
 * a C comment.
 */
export function lexLine(line: string, inBlockComment: boolean): LexedLine {
  if (!inBlockComment && !INTERESTING.test(line)) {
    let end = line.length;
    while (end > 0 && isBlank(line.charCodeAt(end - 1))) end--;
    return {
      statements: [{ start: 0, codeEnd: end, code: line }],
      comments: [],
      inBlockComment: false,
      unterminatedString: false,
    };
  }
  const statements: Statement[] = [];
  const comments: string[] = [];
  // `code` collects the line with comments replaced by blanks, so offsets stay those of the line.
  let code = '';
  let stmtStart = 0;
  let lastCode = 0; // offset just past the last code character of the current statement
  let unterminatedString = false;
  let i = 0;
  const n = line.length;
  const endStatement = (at: number) => {
    statements.push({ start: stmtStart, codeEnd: Math.max(lastCode, stmtStart), code: code.slice(stmtStart, at) });
  };
  while (i < n) {
    if (inBlockComment) {
      const close = line.indexOf('*/', i);
      const stop = close < 0 ? n : close + 2;
      comments.push(line.slice(i, close < 0 ? n : close));
      code += ' '.repeat(stop - i);
      i = stop;
      if (close >= 0) inBlockComment = false;
      continue;
    }
    const c = line[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < n && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (j >= n) { unterminatedString = true; j = n; } else j++;
      code += line.slice(i, j);
      i = j;
      lastCode = i;
      continue;
    }
    if (c === "'") {
      // Character constant: 'c, '\c, and the closing quote some sources add ('c').
      let j = i + 1;
      if (j < n) j += line[j] === '\\' ? 2 : 1;
      if (j < n && line[j] === "'") j++;
      j = Math.min(j, n);
      code += line.slice(i, j);
      i = j;
      lastCode = i;
      continue;
    }
    if (c === '#') {
      comments.push(line.slice(i + 1));
      i = n;
      break;
    }
    if (c === '/' && line[i + 1] === '*') {
      inBlockComment = true;
      code += '  ';
      i += 2;
      continue;
    }
    if (c === '/' && i === 0) {
      comments.push(line.slice(1));
      i = n;
      break;
    }
    if (c === ';') {
      endStatement(i);
      code += ' ';
      i++;
      stmtStart = i;
      lastCode = i;
      continue;
    }
    code += c;
    i++;
    if (!isBlank(c.charCodeAt(0))) lastCode = i;
  }
  endStatement(code.length);
  return { statements, comments, inBlockComment, unterminatedString };
}

function isBlank(ch: number): boolean {
  return ch === 32 || ch === 9 || ch === 13 || ch === 12 || ch === 11;
}
