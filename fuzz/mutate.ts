/**
 * Mutations of valid samples, driven by fast-check: byte-level (bit flips, insertions, deletions,
 * replacements, truncation, duplication of a region, splices of two samples) and JSON-aware (a value
 * of another type, a dropped, duplicated or unknown key, huge numbers, deep nesting, long strings,
 * unusual unicode). Positions are drawn as naturals and taken modulo the sample's length, so
 * fast-check's bias toward small numbers aims many mutations at the first bytes: the headers.
 */
import fc from 'fast-check';

type ByteMutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'replace'; at: number; byte: number }
  | { op: 'interesting'; at: number; bytes: Uint8Array }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'duplicate'; at: number; length: number; to: number }
  | { op: 'splice'; at: number; other: number; from: number };

/** Bytes that parsers treat specially: line ends, quotes, zero, all ones, UTF-8 edge cases, big lengths. */
const INTERESTING: Uint8Array[] = [
  [0x00],
  [0xff],
  [0x0a],
  [0x0d, 0x0a],
  [0x22],
  [0x5c],
  [0x7f],
  [0x80],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xef, 0xbb, 0xbf],
  [0xff, 0xff, 0xff, 0xff],
  [0x7f, 0xff, 0xff, 0xff],
  [0x80, 0x00, 0x00, 0x00],
  [0x28, 0xb5, 0x2f, 0xfd], // zstd frame magic
  [0x2d, 0x2d, 0x2d, 0x20], // age MAC line "--- "
  [0x2d, 0x3e, 0x20], // age stanza "-> "
].map((bytes) => Uint8Array.from(bytes));

const position = fc.nat();
const byteMutation = (samples: number): fc.Arbitrary<ByteMutation> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: position, bit: fc.nat(7) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('replace' as const), at: position, byte: fc.nat(255) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('interesting' as const),
        at: position,
        bytes: fc.constantFrom(...INTERESTING),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('insert' as const),
        at: position,
        bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.constantFrom(...INTERESTING)),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('delete' as const),
        at: position,
        length: fc.integer({ min: 1, max: 64 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: position }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('duplicate' as const),
        at: position,
        length: fc.integer({ min: 1, max: 256 }),
        to: position,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('splice' as const),
        at: position,
        other: fc.nat(samples - 1),
        from: position,
      }),
    },
  );

function applyByteMutation(bytes: Uint8Array, mutation: ByteMutation, samples: readonly Uint8Array[]): Uint8Array {
  const at = mutation.at % (bytes.length + 1);
  const before = bytes.subarray(0, at);
  switch (mutation.op) {
    case 'flip':
    case 'replace': {
      if (bytes.length === 0) return bytes;
      const copy = Uint8Array.from(bytes);
      const index = mutation.at % bytes.length;
      copy[index] = mutation.op === 'flip' ? (copy[index] ?? 0) ^ (1 << mutation.bit) : mutation.byte;
      return copy;
    }
    case 'interesting': {
      const copy = Uint8Array.from(bytes);
      copy.set(mutation.bytes.subarray(0, Math.max(0, bytes.length - at)), at);
      return copy;
    }
    case 'insert':
      return concat(before, mutation.bytes, bytes.subarray(at));
    case 'delete':
      return concat(before, bytes.subarray(at + mutation.length));
    case 'truncate':
      return bytes.slice(0, at);
    case 'duplicate': {
      const region = bytes.subarray(at, at + mutation.length);
      const to = mutation.to % (bytes.length + 1);
      return concat(bytes.subarray(0, to), region, bytes.subarray(to));
    }
    case 'splice': {
      const other = samples[mutation.other % samples.length] ?? bytes;
      return concat(before, other.subarray(mutation.from % (other.length + 1)));
    }
  }
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

/** Applies a list of byte mutations (at least one) to a copy of a sample. */
export const byteMutations = (samples: readonly Uint8Array[]): fc.Arbitrary<ByteMutation[]> =>
  fc.array(byteMutation(samples.length), { minLength: 1, maxLength: 4 });

export const applyByteMutations = (
  sample: Uint8Array,
  mutations: readonly ByteMutation[],
  samples: readonly Uint8Array[],
): Uint8Array => mutations.reduce((bytes, mutation) => applyByteMutation(bytes, mutation, samples), sample);

/**
 * Mutations for one case: one to four, or (one case in 20) none, so that every target also shows
 * its valid samples accepted: an oracle that rejects everything would pass unnoticed otherwise.
 */
const mutationsOrNone = (samples: readonly Uint8Array[]): fc.Arbitrary<readonly ByteMutation[]> =>
  fc.oneof({ weight: 19, arbitrary: byteMutations(samples) }, { weight: 1, arbitrary: fc.constant([]) });

/** One of the samples with one to four byte mutations (or, rarely, none). */
export function mutatedBytes(samples: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat(samples.length - 1), mutationsOrNone(samples))
    .map(([index, mutations]) => applyByteMutations(samples[index] as Uint8Array, mutations, samples));
}

/** A sample and which of them it is, mutated: for oracles that compare with the sample's known content. */
export function mutatedSample(samples: readonly Uint8Array[]): fc.Arbitrary<{ sample: number; bytes: Uint8Array }> {
  return fc.tuple(fc.nat(samples.length - 1), mutationsOrNone(samples)).map(([sample, mutations]) => ({
    sample,
    bytes: applyByteMutations(samples[sample] as Uint8Array, mutations, samples),
  }));
}

// ---- JSON-aware mutations -------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Marks where deep nesting goes: JSON.stringify of a 10,000-deep value would itself overflow the stack. */
const DEEP = '\u0000offsite-fuzz-deep\u0000';

/** Values a field should never hold: other types, limits of numbers, long and odd strings, nesting. */
const strangeValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    -0.0,
    1e308,
    -1e308,
    2 ** 53 + 2,
    -(2 ** 53) - 2,
    2 ** 32,
    '',
    ' ',
    '\n',
    '\u0000',
    '\ud800',
    '\u202e\u0301',
    '𝕆ffsite',
    'NaN',
    '-1',
    '1e999',
    '2026-02-30T25:61:61Z',
    '0000-00-00T00:00:00Z',
    'a'.repeat(64),
    'A'.repeat(64),
    [],
    {},
    DEEP,
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer().map((n): Json => n * 1e10),
  fc.nat(200_000).map((length): Json => 'x'.repeat(length)),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

type JsonMutation =
  | { op: 'set'; node: number; value: Json }
  | { op: 'drop'; node: number }
  | { op: 'add'; node: number; key: string; value: Json }
  | { op: 'duplicateKey'; node: number; value: Json }
  | { op: 'renameKey'; node: number; key: string };

const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), node: fc.nat(), value: strangeValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('drop' as const), node: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      node: fc.nat(),
      key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'signature', 'version')),
      value: strangeValue,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('duplicateKey' as const), node: fc.nat(), value: strangeValue }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('renameKey' as const), node: fc.nat(), key: fc.string({ maxLength: 8 }) }),
  },
);

/** Every object or array in the value, in document order, with the place that holds it. */
function containers(value: Json): (Json[] | { [key: string]: Json })[] {
  const found: (Json[] | { [key: string]: Json })[] = [];
  const walk = (node: Json): void => {
    if (node === null || typeof node !== 'object') return;
    found.push(node);
    for (const child of Array.isArray(node) ? node : Object.values(node)) walk(child);
  };
  walk(value);
  return found;
}

/** Duplicated keys cannot live in a JS object: they are written into the text after JSON.stringify. */
interface Pending {
  duplicates: { marker: string; key: string; value: Json }[];
}

function applyJsonMutation(root: Json, original: JsonMutation, pending: Pending): void {
  // A copy: the constants among the values (`[]`, `{}`) are shared by every case, and a later
  // mutation inside one would change it for the rest of the run (and could make it contain itself).
  const mutation = 'value' in original ? { ...original, value: structuredClone(original.value) } : original;
  const all = containers(root);
  if (all.length === 0) return;
  const node = all[mutation.node % all.length] as Json[] | { [key: string]: Json };
  const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
  const pick = keys[mutation.node % Math.max(1, keys.length)];
  const record = node as Record<string | number, Json>;
  switch (mutation.op) {
    case 'set':
      if (pick !== undefined) record[pick] = mutation.value;
      return;
    case 'drop':
      if (pick === undefined) return;
      if (Array.isArray(node)) node.splice(pick as number, 1);
      else Reflect.deleteProperty(node, pick);
      return;
    case 'add':
      if (Array.isArray(node)) node.push(mutation.value);
      else
        Object.defineProperty(node, mutation.key, {
          value: mutation.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return;
    case 'duplicateKey': {
      if (Array.isArray(node) || pick === undefined) return;
      const marker = `\u0000dup${pending.duplicates.length}\u0000`;
      pending.duplicates.push({ marker, key: String(pick), value: mutation.value });
      Object.defineProperty(node, marker, { value: 0, enumerable: true, writable: true, configurable: true });
      return;
    }
    case 'renameKey': {
      if (Array.isArray(node) || pick === undefined) return;
      const value = record[pick] as Json;
      Reflect.deleteProperty(node, pick);
      Object.defineProperty(node, mutation.key, { value, enumerable: true, writable: true, configurable: true });
      return;
    }
  }
}

function serialize(value: Json, pending: Pending, indent: number, depth: number): string {
  let text = JSON.stringify(value, null, indent);
  for (const { marker, key, value: duplicate } of pending.duplicates)
    text = text.replace(
      `${JSON.stringify(marker)}:${indent ? ' ' : ''}0`,
      `${JSON.stringify(key)}:${JSON.stringify(duplicate)}`,
    );
  return text.replaceAll(JSON.stringify(DEEP), `${'['.repeat(depth)}${']'.repeat(depth)}`);
}

/**
 * One of the JSON samples with one to three JSON-aware mutations, written compact or indented, then
 * possibly a byte mutation on top.
 */
export function mutatedJson(
  samples: readonly Uint8Array[],
  options: { depths?: readonly number[] } = {},
): fc.Arbitrary<Uint8Array> {
  const values = samples.map((bytes) => Buffer.from(bytes).toString('utf8'));
  return fc
    .record({
      sample: fc.nat(samples.length - 1),
      mutations: fc.array(jsonMutation, { minLength: 1, maxLength: 3 }),
      indent: fc.constantFrom(0, 2),
      depth: fc.constantFrom(...(options.depths ?? [10, 1000, 100_000])),
      bytes: fc.option(byteMutations(samples), { freq: 4 }),
    })
    .map(({ sample, mutations, indent, depth, bytes }) => {
      let root: Json;
      try {
        root = JSON.parse(values[sample] as string) as Json;
      } catch {
        return applyByteMutations(samples[sample] as Uint8Array, bytes ?? [], samples);
      }
      const pending: Pending = { duplicates: [] };
      let value = root;
      for (const mutation of mutations) {
        if (mutation.op === 'set' && containers(value).length === 0) value = structuredClone(mutation.value);
        else applyJsonMutation(value, mutation, pending);
      }
      const text = new TextEncoder().encode(serialize(value, pending, indent, depth));
      return bytes ? applyByteMutations(text, bytes, samples) : text;
    });
}

/** Mutations of JSON lines (one JSON value per line), as text. */
export function mutatedJsonText(samples: readonly string[]): fc.Arbitrary<string> {
  return mutatedJson(samples.map((text) => new TextEncoder().encode(text))).map((bytes) =>
    Buffer.from(bytes).toString('utf8'),
  );
}

/** Byte mutations of text samples, decoded back as UTF-8 (invalid sequences become U+FFFD, as a reader would see them). */
export function mutatedText(samples: readonly string[]): fc.Arbitrary<string> {
  return mutatedBytes(samples.map((text) => new TextEncoder().encode(text))).map((bytes) =>
    Buffer.from(bytes).toString('utf8'),
  );
}
