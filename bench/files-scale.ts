/**
 * Files backups at scale without storing every object: the synthetic run of
 * test/helpers/synthetic-files.ts (a listing made up as it is read, every object already in the
 * state cache, so the run is the listing/cache merge, the index and the manifest) for a small and a
 * large object count, each in a fresh process. Reports peak RSS, objects per second and the memory
 * each extra object costs; the target is a peak under 300 MB at every count.
 */
import { spawnSync } from 'node:child_process';
import type { ReportPart } from './report.js';

const SCRIPT = new URL('../test/helpers/synthetic-files.ts', import.meta.url).pathname;
const RSS_LIMIT_MB = 300;

interface ScaleSample {
  objects: number;
  seconds: number;
  peakRssMiB: number;
}

export function benchFilesScale(counts: readonly number[]): ReportPart {
  const samples = counts.map((count): ScaleSample => {
    process.stderr.write(`files at scale: ${count} synthetic objects...\n`);
    const run = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, String(count)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`the synthetic files backup of ${count} objects failed: ${run.stderr}`);
    return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as ScaleSample;
  });
  const first = samples[0];
  const last = samples.at(-1);
  const perObject =
    first && last && last.objects > first.objects
      ? ((last.peakRssMiB - first.peakRssMiB) * 1024 * 1024) / (last.objects - first.objects)
      : 0;
  const peak = Math.max(...samples.map((s) => s.peakRssMiB));
  return {
    ratios: { filesScalePeakRssMiB: peak, filesScaleBytesPerObject: perObject },
    targets: [
      {
        name: `files backup peak RSS at up to ${last?.objects ?? 0} objects`,
        value: peak,
        limit: RSS_LIMIT_MB,
        unit: 'MB',
      },
    ],
    markdown: [
      '',
      '## Files backups at scale',
      '',
      'A synthetic source (listed as it is read) whose every object is already in the state cache: the run is the merge of the listing with the cache on disk, the index and the manifest, uploaded to the stack; no blob. Each count runs in a fresh process.',
      '',
      '| objects | wall time | objects/s | peak RSS |',
      '|---|---|---|---|',
      ...samples.map(
        (s) =>
          `| ${s.objects.toLocaleString('en')} | ${s.seconds.toFixed(1)} s | ${Math.round(s.objects / s.seconds).toLocaleString('en')} | ${s.peakRssMiB.toFixed(0)} MiB |`,
      ),
      '',
      `Memory per extra object: ${perObject.toFixed(1)} bytes (the peak's growth from the first count to the last, divided by the extra objects).`,
    ],
  };
}
