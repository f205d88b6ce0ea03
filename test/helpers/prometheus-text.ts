/**
 * A strict reader of the Prometheus text format (0.0.4) for tests: every line must be a HELP or TYPE
 * comment, a sample of a family declared before it, or empty. Returns the samples.
 */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;

export function parsePrometheusText(text: string): ParsedSample[] {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const types = new Map<string, string>();
  const samples: ParsedSample[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      if (!/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) fail('bad HELP');
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const match =
        /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line) ?? fail('bad TYPE');
      if (types.has(match[1] as string)) fail('family declared twice');
      types.set(match[1] as string, match[2] as string);
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line) ?? fail('not a sample');
    const [, name = '', labelText = '', valueText = ''] = match;
    if (!types.has(name)) fail('sample of an undeclared family');
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const label = LABEL.exec(labelText) ?? fail('bad labels');
      labels[label[1] as string] = (label[2] as string).replace(/\\(["\\n])/g, (_, c: string) =>
        c === 'n' ? '\n' : c,
      );
    }
    const value =
      valueText === '+Inf'
        ? Infinity
        : valueText === '-Inf'
          ? -Infinity
          : valueText === 'NaN'
            ? NaN
            : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') fail('bad value');
    if (types.get(name) === 'counter' && !(value >= 0)) fail('a counter must not be negative');
    samples.push({ name, labels, value });
  }
  return samples;
}

/** The value of one series, or undefined when absent. */
export const sampleValue = (
  samples: readonly ParsedSample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
