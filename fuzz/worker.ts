/**
 * One worker thread of the fuzz runner: prepares one target and runs its cases `from` to `to`,
 * writing progress into the shared buffer (see {@link Progress}) so that the main thread can tell
 * a hang from a slow run, and can still count what was done when it has to stop this worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runCase } from './engine.js';
import { Progress, type FailureMessage, type WorkerInput } from './progress.js';
import { TARGETS } from './targets/index.js';

const input = workerData as WorkerInput;
// Libraries warn on stderr about odd input (the YAML parser about unknown directives): noise here.
process.removeAllListeners('warning');
const progress = new Progress(input.progress);
const target = TARGETS.find((t) => t.name === input.target);
if (!target) throw new Error(`no fuzz target ${input.target}`);

const cases = await target.prepare();
progress.prepared();
try {
  for (let n = input.from; n < input.to; n++) {
    progress.starting(n);
    const result = await runCase(cases, input.seed, n);
    progress.finished(result);
    if ('failure' in result) {
      const message: FailureMessage = { kind: result.failure, case: n, message: result.message, input: result.input };
      parentPort?.postMessage(message);
    }
  }
} finally {
  cases.dispose?.();
}
progress.done();
