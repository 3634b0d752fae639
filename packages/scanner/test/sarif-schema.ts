// The official OASIS SARIF 2.1.0 JSON schema (vendored in fixtures/lint, see its SOURCE file) and an
// ajv validator for it, for the scanner's SARIF tests and the CLI's.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

export const SARIF_SCHEMA = JSON.parse(readFileSync(new URL('../../../fixtures/lint/sarif-schema-2.1.0.json', import.meta.url), 'utf8'));

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => void;

/** A validator of SARIF logs against the schema (all errors reported, formats checked). */
export function sarifValidator(): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(SARIF_SCHEMA);
}
