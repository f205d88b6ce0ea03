/**
 * Composes byte stages. `source.pipe(dest)` does not pass errors along; `pipeline` does:
 * the first error anywhere destroys every stage, and the consumer of the output sees it.
 */
import { PassThrough, type Duplex, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface RunningPipeline {
  /** The last stage's bytes, for a consumer such as an upload. It errors when any stage fails. */
  output: Readable;
  /** Settles when every stage has finished; rejects with the first error. */
  done: Promise<void>;
}

export function runPipeline(
  source: Readable,
  stages: readonly (Duplex | Transform)[],
  signal?: AbortSignal,
): RunningPipeline {
  const output = new PassThrough();
  const done = pipeline([source, ...stages, output], signal ? { signal } : {});
  done.catch((error: unknown) => output.destroy(error instanceof Error ? error : new Error(String(error))));
  return { output, done };
}
