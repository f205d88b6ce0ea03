/**
 * S3's key order: ListObjects returns keys in the binary order of their UTF-8 bytes. JavaScript
 * compares strings by UTF-16 code units, which agrees except between characters above U+FFFF
 * (surrogate pairs, U+D800–U+DFFF as code units) and U+E000–U+FFFF: UTF-8 puts the first after
 * the second, UTF-16 before. The files state cache and the restore's merge with the target's
 * listing both walk keys in S3's order, so they compare with this.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

/** A code unit's place in UTF-8 order: surrogates (characters above U+FFFF) move after U+FFFF. */
function utf8Rank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
