/** PostgreSQL cuts identifiers at 63 bytes (NAMEDATALEN - 1), silently: a name made longer would name another database. */
const MAX_NAME_BYTES = 63;

/** `name` + `suffix` within 63 bytes: the name is shortened (by whole characters), the suffix kept. */
export function nameWithSuffix(name: string, suffix: string): string {
  let base = name;
  while (Buffer.byteLength(base + suffix) > MAX_NAME_BYTES) base = Array.from(base).slice(0, -1).join('');
  return base + suffix;
}
