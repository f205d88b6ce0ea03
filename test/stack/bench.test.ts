/**
 * The benchmark is never a timed test; this only checks that it runs end to end against the local
 * stack (every contender: pg_dump, the original pipeline, restic, rclone, aws s3 sync, Offsite),
 * with the backup bucket behind the bench's rate-limited link, and writes its report, chart and
 * ratios. `--smoke` keeps the workload small (20 MB, 100 objects, 1 run).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir, type TempDir } from '../helpers/backup-env.js';
import { REPO_DIR } from '../helpers/stack.js';

describe('npm run bench', { timeout: 900_000 }, () => {
  let dir: TempDir;
  let run: { code: number | null; stdout: string; stderr: string };

  before(async () => {
    dir = tempDir();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO_DIR, 'bench/peers.ts'), '--smoke', '--link-mbit', '400', '--out', dir.path],
      { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    run = { code, stdout, stderr };
  });

  after(() => dir.remove());

  it('runs every contender and ends with one JSON line of ratios', () => {
    assert.equal(run.code, 0, run.stderr.slice(-2_000));
    const line = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as {
      bench: string;
      ratios: Record<string, number>;
    };
    assert.equal(line.bench, 'peers');
    for (const name of [
      'backupDbVsOriginal',
      'backupDbVsPgDump',
      'storedVsOriginal',
      'restoreDbVsOriginal',
      'backupFilesVsRclone',
      'secondRunVsFirst',
    ]) {
      assert.ok(Number.isFinite(line.ratios[name]) && (line.ratios[name] ?? 0) > 0, `${name}: ${line.ratios[name]}`);
    }
  });

  it('writes RESULTS.md with every contender and the targets, and the chart it links', () => {
    const markdown = readFileSync(join(dir.path, 'RESULTS.md'), 'utf8');
    for (const contender of [
      'pg_dump > /dev/null',
      'original pipeline',
      'restic --stdin',
      'restic dump \\| pg_restore',
      'rclone sync (crypt)',
      'aws s3 sync (via disk, unencrypted)',
      'offsite backup db',
      'offsite restore db',
      'offsite backup files (first run)',
      'offsite restore files',
    ]) {
      const row = markdown.split('\n').find((line) => line.startsWith('| ') && line.includes(contender));
      assert.ok(row, `RESULTS.md lists ${contender}`);
      assert.equal(row.split(/(?<!\\)\|/).length, 9, `one cell per column: ${row}`);
      assert.match(row, /\| \d+ MiB \|/, `peak RSS of ${contender}`);
    }
    assert.match(markdown, /shared link of 400 Mbit\/s/);
    assert.match(markdown, /## Targets/);
    assert.match(markdown, /## Files backups at scale/);
    assert.match(markdown, /\| 20,000 \| [\d.]+ s \| [\d,]+ \| \d+ MiB \|/, 'the synthetic run of 20,000 objects');
    assert.match(markdown, /!\[wall time per contender\]\(results\.svg\)/);
    const svg = readFileSync(join(dir.path, 'results.svg'), 'utf8');
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok((svg.match(/<rect /g) ?? []).length >= 10, 'one bar per contender');
  });
});
