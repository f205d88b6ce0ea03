/**
 * The one streaming pass of `verify`: the stored bytes are hashed, and with a key they are also
 * decrypted, decompressed, hashed again and, for custom archives, read by `pg_restore --list`.
 */
import { spawn } from 'node:child_process';
import { Writable, type Duplex, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe } from '../../errors.js';
import type { Compression } from '../../format/layout.js';
import { createDecompressStream } from '../../pipeline/compress.js';
import { createDecryptStream, type DecryptSpec } from '../../pipeline/cipher.js';
import { createMeter, type Measurement } from '../../pipeline/meter.js';
import { drainingInput, watchChild, type WatchedChild } from '../../processes/child-stream.js';

/** What a deep pass needs: the key and the compression (absent: the payload is the dump itself, as a chunked backup's is), and pg_restore for custom archives. */
export interface DeepPass {
  decode?: { decrypt: DecryptSpec; compression: Compression };
  /** For custom archives: the pg_restore to list the archive with, and its environment. */
  pgRestore?: { binary: string; env: NodeJS.ProcessEnv };
}

/** The measurements of one pass, or why it could not finish. */
export interface PassResult {
  /** Absent when the pass stopped before the end. */
  stored?: Measurement;
  plaintext?: Measurement;
  /** What went wrong, in the words of the problem report. */
  problem?: string;
}

/** What a failure in each stage means for the backup. */
const STAGE_PROBLEMS: Record<string, string> = {
  source: 'reading the payload failed',
  decrypt: 'the payload does not decrypt (damaged or replaced)',
  decompress: 'the payload does not decompress (damaged)',
};

/**
 * Streams the payload once. A failing stage becomes `problem`; nothing throws but cancellation.
 * @throws the abort reason when `signal` is aborted.
 */
export async function measurePayload(
  payload: Readable,
  deep: DeepPass | undefined,
  signal?: AbortSignal,
): Promise<PassResult> {
  const stored = createMeter();
  const plain = createMeter();
  const lister = deep?.pgRestore ? startLister(deep.pgRestore) : undefined;
  const stages: [string, Readable | Duplex | Writable][] = [
    ['source', payload],
    ['stored', stored.stream],
  ];
  if (deep?.decode)
    stages.push(
      ['decrypt', createDecryptStream(deep.decode.decrypt)],
      ['decompress', createDecompressStream(deep.decode.compression)],
      ['plaintext', plain.stream],
    );
  stages.push(['sink', lister?.sink ?? drain()]);
  let failed: { stage: string; error: unknown } | undefined;
  for (const [stage, stream] of stages) stream.once('error', (error: unknown) => (failed ??= { stage, error }));
  try {
    await pipeline(
      stages.map(([, stream]) => stream),
      signal ? { signal } : {},
    );
  } catch (error) {
    lister?.kill();
    signal?.throwIfAborted();
    const cause = failed ?? { stage: 'source', error };
    return { problem: `${STAGE_PROBLEMS[cause.stage] ?? 'verifying the payload failed'}: ${describe(cause.error)}` };
  }
  const listed = lister ? await lister.watched.exited : undefined;
  return {
    stored: stored.result(),
    ...(deep ? { plaintext: deep.decode ? plain.result() : stored.result() } : {}),
    ...(listed ? { problem: `pg_restore --list cannot read the archive: ${listed.message}` } : {}),
  };
}

const drain = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done() });

/** `pg_restore --list` on stdin; its exit status is the verdict. */
function startLister(tool: { binary: string; env: NodeJS.ProcessEnv }): {
  sink: Writable;
  watched: WatchedChild;
  kill(): void;
} {
  const child = spawn(tool.binary, ['--list'], { env: tool.env, stdio: ['pipe', 'ignore', 'pipe'] });
  return {
    sink: drainingInput(child.stdin),
    watched: watchChild(child, 'pg_restore'),
    kill: () => child.kill('SIGTERM'),
  };
}
