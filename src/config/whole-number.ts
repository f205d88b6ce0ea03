/**
 * The one parser of whole numbers from text (settings and flags alike), with one wording of its error:
 * `--sample must be a positive whole number (got "x")`.
 */
import { OffsiteError, type ErrorKind } from '../errors.js';

export interface WholeNumberRule {
  /** Smallest allowed value; default 1. */
  min?: number;
  max?: number;
}

/** What the rule accepts, in words: "a positive whole number", "a whole number from 5 to 5120". */
function wholeNumberExpected({ min = 1, max }: WholeNumberRule = {}): string {
  if (max !== undefined) return `a whole number from ${min} to ${max}`;
  return min === 1 ? 'a positive whole number' : `a whole number of at least ${min}`;
}

/**
 * Digits only (surrounding spaces ignored), within the rule's bounds; numbers pass when whole and in bounds.
 * @param label - what the user set, e.g. `--sample` or `retentionDays from OFFSITE_RETENTION_DAYS`.
 * @throws OffsiteError of `kind` (exit 2): `<label> must be <expected> (got "<raw>")`.
 */
export function parseWholeNumber(
  raw: unknown,
  label: string,
  rule: WholeNumberRule = {},
  kind: Extract<ErrorKind, 'usage' | 'config'> = 'usage',
): number {
  const n =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  const { min = 1, max } = rule;
  if (Number.isSafeInteger(n) && n >= min && (max === undefined || n <= max)) return n;
  throw new OffsiteError(kind, `${label} must be ${wholeNumberExpected(rule)} (got ${JSON.stringify(raw)})`);
}
