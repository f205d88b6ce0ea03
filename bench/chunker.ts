/**
 * `node --import tsx bench/chunker.ts`: throughput of the content-defined chunker alone, and with an
 * HMAC-SHA256 of each chunk (what naming a chunk costs), on 1 GiB of text shaped like pg_dump's COPY
 * rows, fed in 64 KiB buffers as a pipe delivers them; the best of three runs after a warm-up, as other
 * work on the machine only ever slows a run down. A benchmark, never a test: it prints figures.
 * `-- --average 16384`: another average chunk size (8 KiB by default); `-- --gib 0.25`: less data.
 */
import { createHmac } from 'node:crypto';
import { Chunker, chunkerParams } from '../src/pipeline/chunker.js';

const option = (name: string, fallback: number): number =>
  process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback;
const AVERAGE = option('--average', 8192);
const TOTAL = Math.round(option('--gib', 1) * 2 ** 30);
const PIECE = 64 * 1024;
/** Distinct text, repeated to make up the total: generating a whole GiB would take longer than chunking it. */
const SAMPLE = 64 * 2 ** 20;
const secret = new Uint8Array(32).map((_, i) => i + 1);

/** COPY rows of a made-up orders table: ids, names, e-mails, timestamps, amounts and free text. */
function dumpText(size: number): Buffer {
  let state = 0x2545f491;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const words = ['alpha', 'delivery', 'pending', 'shipped', 'refund', 'customer', 'note', 'urgent', 'gift', 'box'];
  const pick = (): string => words[next() % words.length] ?? '';
  const lines: string[] = ['COPY public.orders (id, name, email, created_at, amount, note) FROM stdin;'];
  let length = 0;
  for (let id = 1; length < size; id++) {
    const name = `${pick()}_${(next() % 100_000).toString(36)}`;
    const day = String(1 + (next() % 28)).padStart(2, '0');
    const note = Array.from({ length: next() % 12 }, pick).join(' ') || '\\N';
    const line = `${id}\t${name}\t${name}@example.com\t2024-03-${day} 12:${next() % 60}:00+00\t${(next() % 1_000_000) / 100}\t${note}`;
    lines.push(line);
    length += line.length + 1;
  }
  return Buffer.from(lines.join('\n')).subarray(0, size);
}

const sample = dumpText(SAMPLE);
const pieces: Buffer[] = [];
for (let offset = 0; offset < sample.length; offset += PIECE) pieces.push(sample.subarray(offset, offset + PIECE));

function run(perChunk?: (chunk: Buffer) => void): { seconds: number; chunks: number } {
  const chunker = new Chunker(secret, chunkerParams(AVERAGE));
  let chunks = 0;
  const started = process.hrtime.bigint();
  for (let fed = 0; fed < TOTAL; fed += SAMPLE) {
    for (const piece of pieces) {
      for (const chunk of chunker.push(piece)) {
        chunks++;
        perChunk?.(chunk);
      }
    }
  }
  for (const chunk of chunker.end()) {
    chunks++;
    perChunk?.(chunk);
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, chunks };
}

const key = Buffer.alloc(32, 7);
const hmac = (chunk: Buffer): void => {
  createHmac('sha256', key).update(chunk).digest();
};
const bytes = Math.ceil(TOTAL / SAMPLE) * SAMPLE;
process.stdout.write(`${(bytes / 2 ** 30).toFixed(2)} GiB of dump text in ${PIECE / 1024} KiB buffers\n`);
for (const [name, perChunk] of [
  ['chunker alone', undefined],
  ['chunker + HMAC-SHA256 per chunk', hmac],
] as const) {
  run(perChunk); // warm-up: the first run also pays for compiling the loop
  const runs = [run(perChunk), run(perChunk), run(perChunk)];
  const seconds = Math.min(...runs.map((r) => r.seconds));
  const chunks = runs[0]?.chunks ?? 0;
  process.stdout.write(
    `${name}, ${AVERAGE / 1024} KiB average: ${(bytes / 1e6 / seconds).toFixed(0)} MB/s, best of 3 ` +
      `(${chunks} chunks, mean ${(bytes / chunks / 1024).toFixed(1)} KiB)\n`,
  );
}
