// Exit codes shared by every command (documented in the README).
export const EXIT_OK = 0;
/** The command ran and found problems (check, lint, verify). */
export const EXIT_PROBLEMS = 1;
/** Unusable input or bad arguments: a one-line message names the file and what is wrong. */
export const EXIT_USAGE = 2;
/** The guest could not continue (triple fault, unimplemented instruction, instruction limit). */
export const EXIT_GUEST_FAILURE = 3;

/** An error meant for the user: printed as one line, no stack trace, with its exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_USAGE) {
    super(message);
    this.name = 'CliError';
  }
}
