export { main, reportError } from './main.js';
export { CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_GUEST_FAILURE } from './errors.js';
