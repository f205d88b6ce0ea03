import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_WORKFLOW_OPTIONS, githubWorkflow, type GithubWorkflowOptions } from './github-workflow.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
  shell?: string;
  if?: string;
}
interface Job {
  if: string;
  'runs-on': string;
  'timeout-minutes': number;
  environment?: string;
  strategy: { matrix: { environment: string[]; shard?: number[] } };
  concurrency: { group: string; 'cancel-in-progress': boolean };
  env: Record<string, string>;
  services?: Record<string, { image: string; ports: string[] }>;
  steps: Step[];
}
interface Workflow {
  on: { schedule: { cron: string }[]; workflow_dispatch: { inputs: { job: { options: string[] } } } };
  permissions: Record<string, string>;
  env: Record<string, string>;
  jobs: Record<string, Job>;
}

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const TARBALL_SHA256 = 'ab'.repeat(32);
const options = (overrides: Partial<GithubWorkflowOptions> = {}): GithubWorkflowOptions => ({
  ...DEFAULT_WORKFLOW_OPTIONS,
  offsiteVersion: '1.2.3',
  install: { kind: 'git', url: 'git+https://github.com/acme/offsite.git', commit: COMMIT },
  ...overrides,
});
const generate = (overrides: Partial<GithubWorkflowOptions> = {}) => {
  const workflow = githubWorkflow(options(overrides));
  return { ...workflow, parsed: parse(workflow.yaml) as Workflow };
};
const job = (workflow: Workflow, name: string): Job => {
  const found = workflow.jobs[name];
  assert.ok(found, `no job ${name}`);
  return found;
};
const offsiteStep = (j: Job): Step => {
  const step = j.steps.find((s) => s.run?.includes('offsite ') && !s.run.includes('npm install'));
  assert.ok(step, 'no step runs offsite');
  return step;
};
const references = (yaml: string, context: 'secrets' | 'vars'): Set<string> =>
  new Set(
    [...yaml.matchAll(new RegExp(`\\$\\{\\{\\s*${context}\\.([A-Za-z0-9_]+)\\s*\\}\\}`, 'g'))].map((m) => m[1] ?? ''),
  );

describe('the GitHub Actions workflow', () => {
  it('has the four jobs, each started by its own cron or by hand', () => {
    const { parsed } = generate();
    assert.deepEqual(Object.keys(parsed.jobs), ['backup-db', 'backup-files', 'drill', 'status']);
    assert.deepEqual(parsed.on.schedule.map((s) => s.cron).sort(), [
      '17 * * * *',
      '37 2 * * *',
      '47 * * * *',
      '7 5 * * *',
    ]);
    assert.deepEqual(parsed.on.workflow_dispatch.inputs.job.options, ['backup-db', 'backup-files', 'drill', 'status']);
    const expected: Record<string, [string, string]> = {
      'backup-db': ['17 * * * *', 'backup-db'],
      'backup-files': ['37 2 * * *', 'backup-files'],
      drill: ['7 5 * * *', 'drill'],
      status: ['47 * * * *', 'status'],
    };
    for (const [name, [cron, input]] of Object.entries(expected)) {
      assert.equal(job(parsed, name).if, `github.event.schedule == '${cron}' || inputs.job == '${input}'`);
    }
  });

  it('backs up every environment hourly, one matrix entry per GitHub environment, never two runs at once', () => {
    const { parsed } = generate({ environments: ['production', 'staging', 'sandbox'] });
    const db = job(parsed, 'backup-db');
    assert.deepEqual(db.strategy.matrix.environment, ['production', 'staging', 'sandbox']);
    assert.equal(
      db.environment,
      '${{ matrix.environment }}',
      'per-environment secrets come from the GitHub environment',
    );
    assert.equal(db.env.OFFSITE_ENVIRONMENT, '${{ matrix.environment }}');
    assert.deepEqual(db.concurrency, {
      group: 'offsite-backup-db-${{ matrix.environment }}',
      'cancel-in-progress': false,
    });
    assert.ok(db['timeout-minutes'] > 0 && db['timeout-minutes'] < 60, 'an hourly job ends before the next one is due');
    assert.equal(offsiteStep(db).run?.split('\n').at(-1), 'offsite backup db');
  });

  it('keeps the chunk index between runs with actions/cache, a new entry per run, restored per environment', () => {
    const db = job(generate().parsed, 'backup-db');
    const cache = db.steps.find((s) => s.uses === 'actions/cache@v4');
    assert.ok(cache?.with, 'the db job uses actions/cache');
    const folder = cache.with.path;
    assert.equal(typeof folder, 'string');
    assert.equal(db.env.OFFSITE_DB_CHUNK_INDEX, `\${{ github.workspace }}/${String(folder)}/chunk.index`);
    const key = String(cache.with.key);
    const restore = String(cache.with['restore-keys']);
    assert.match(key, /\$\{\{ matrix\.environment \}\}/, 'one index per environment');
    assert.match(
      key,
      /\$\{\{ github\.run_id \}\}-\$\{\{ github\.run_attempt \}\}$/,
      'entries are immutable: a key per run',
    );
    assert.ok(
      key.startsWith(restore) && restore.length < key.length,
      'the newest entry of the environment is restored',
    );
    assert.match(
      restore,
      /\/\$\{\{ matrix\.environment \}\}\/$/,
      'no environment restores another one whose name it starts',
    );
    const steps = db.steps;
    assert.ok(steps.indexOf(cache) < steps.indexOf(offsiteStep(db)), 'the index is restored before the backup');
    const files = job(generate().parsed, 'backup-files').steps.find((s) => s.uses === 'actions/cache@v4');
    assert.notEqual(files?.with?.path, folder, 'the db index and the files state are cached apart');
    assert.ok(!restore.startsWith(String(files?.with?.['restore-keys'])), 'and under keys of their own');
  });

  it("verifies every database backup with the reader's key right after it, and only after a backup that succeeded", () => {
    const db = job(generate().parsed, 'backup-db');
    const backup = offsiteStep(db);
    const verify = db.steps[db.steps.indexOf(backup) + 1];
    assert.ok(verify, 'a step follows the backup');
    assert.equal(verify.run, 'offsite verify latest');
    assert.equal(verify.if, undefined, 'the default success() condition: no verify of a backup that failed');
    assert.deepEqual(verify.env, {
      AWS_ACCESS_KEY_ID: '${{ secrets.OFFSITE_READER_ACCESS_KEY_ID }}',
      AWS_SECRET_ACCESS_KEY: '${{ secrets.OFFSITE_READER_SECRET_ACCESS_KEY }}',
    });
    assert.equal(db.steps.at(-1), verify, 'nothing runs between it and the end of the job');
    assert.equal(db.env.OFFSITE_ENVIRONMENT, '${{ matrix.environment }}', 'it verifies the environment just backed up');
    assert.ok(!JSON.stringify(backup.env).includes('READER'), 'the backup never holds the reader key');
  });

  it('installs a tarball only after its SHA-256 matched, in the same step', () => {
    const url = 'https://downloads.example.com/offsite-1.2.3.tgz';
    const { parsed } = generate({ install: { kind: 'tarball', url, sha256: TARBALL_SHA256 } });
    for (const [name, j] of Object.entries(parsed.jobs)) {
      const step = j.steps.find((s) => s.run?.includes('npm install'));
      assert.deepEqual(
        step?.run?.split('\n'),
        [
          `curl -fsSL --retry 3 -o "$RUNNER_TEMP/offsite.tgz" '${url}'`,
          `echo "${TARBALL_SHA256}  $RUNNER_TEMP/offsite.tgz" | sha256sum -c -`,
          'npm install --prefix "$RUNNER_TEMP/offsite" --no-audit --no-fund "$RUNNER_TEMP/offsite.tgz"',
          'echo "$RUNNER_TEMP/offsite/node_modules/.bin" >> "$GITHUB_PATH"',
        ],
        name,
      );
    }
  });

  it('gives every job a timeout and a concurrency group of its own per environment', () => {
    const { parsed } = generate();
    const groups = Object.values(parsed.jobs).map((j) => j.concurrency.group);
    assert.equal(new Set(groups).size, groups.length);
    for (const [name, j] of Object.entries(parsed.jobs)) {
      assert.ok(Number.isInteger(j['timeout-minutes']) && j['timeout-minutes'] > 0, `${name} has a timeout`);
      assert.match(j.concurrency.group, /\$\{\{ matrix\.environment \}\}/, `${name} is grouped per environment`);
    }
  });

  it('installs Offsite from the pinned commit and the PGDG PostgreSQL client where pg_dump or pg_restore run', () => {
    const { parsed, yaml } = generate({ postgresMajor: 17, nodeVersion: '22' });
    for (const j of Object.values(parsed.jobs)) {
      assert.ok(j.steps.some((s) => s.uses === 'actions/setup-node@v4' && s.with?.['node-version'] === '22'));
      assert.ok(
        j.steps.some(
          (s) =>
            s.run ===
            [
              `npm install --prefix "$RUNNER_TEMP/offsite" --no-audit --no-fund 'git+https://github.com/acme/offsite.git#${COMMIT}'`,
              'echo "$RUNNER_TEMP/offsite/node_modules/.bin" >> "$GITHUB_PATH"',
            ].join('\n'),
        ),
      );
    }
    assert.doesNotMatch(yaml, /offsite@/, 'no registry name or version anywhere');
    for (const name of ['backup-db', 'drill']) {
      const install = job(parsed, name).steps.find((s) => s.run?.includes('apt.postgresql.org.sh'));
      assert.ok(install?.run?.includes('postgresql-client-17'), `${name} installs postgresql-client-17 from PGDG`);
    }
    assert.equal(job(parsed, 'drill').services?.scratch?.image, 'postgres:17');
  });

  it('writes the age identity to a 0600 file for the drill only, and removes it afterwards', () => {
    const { parsed, yaml } = generate();
    const step = offsiteStep(job(parsed, 'drill'));
    assert.equal(step.env?.OFFSITE_AGE_IDENTITY, '${{ secrets.OFFSITE_AGE_IDENTITY }}');
    assert.match(step.run ?? '', /umask 077/);
    assert.match(step.run ?? '', /chmod 600 "\$identity"/);
    assert.match(step.run ?? '', /trap 'rm -f "\$identity"' EXIT/);
    assert.match(step.run ?? '', /OFFSITE_AGE_IDENTITY_FILE="\$identity" offsite drill/);
    assert.match(yaml, /# The drill needs the private age identity[^\n]*\n.*anyone who can change this workflow/);
    const others = Object.entries(parsed.jobs).filter(([name]) => name !== 'drill');
    for (const [name, j] of others)
      assert.ok(!JSON.stringify(j).includes('AGE_IDENTITY'), `${name} never sees the identity`);
  });

  it('uses the writer for backups and the reader for status and drills, each only in the step that runs offsite', () => {
    const { parsed } = generate();
    for (const name of ['backup-db', 'backup-files'])
      assert.equal(
        offsiteStep(job(parsed, name)).env?.AWS_ACCESS_KEY_ID,
        '${{ secrets.OFFSITE_WRITER_ACCESS_KEY_ID }}',
      );
    for (const name of ['status', 'drill'])
      assert.equal(
        offsiteStep(job(parsed, name)).env?.AWS_ACCESS_KEY_ID,
        '${{ secrets.OFFSITE_READER_ACCESS_KEY_ID }}',
      );
    const verify = job(parsed, 'backup-db').steps.find((s) => s.run?.startsWith('offsite verify'));
    assert.equal(verify?.env?.AWS_ACCESS_KEY_ID, '${{ secrets.OFFSITE_READER_ACCESS_KEY_ID }}');
    for (const [name, j] of Object.entries(parsed.jobs)) {
      assert.ok(
        !JSON.stringify(j.env).includes('secrets.'),
        `${name}: no secret in the job-wide environment, where third-party actions would see it`,
      );
      for (const step of j.steps.filter((s) => s.uses))
        assert.ok(!JSON.stringify(step).includes('secrets.'), `${name}: no secret given to ${step.uses}`);
    }
    assert.deepEqual(parsed.permissions, {});
  });

  it("checks freshness per environment with a max age per kind, and pings a dead-man's switch", () => {
    const { parsed } = generate({ maxAge: { db: '90m', files: '30h' } });
    const status = job(parsed, 'status');
    assert.equal(offsiteStep(status).run, 'offsite status --max-age db=90m --max-age files=30h');
    const ping = status.steps.at(-1);
    assert.equal(ping?.if, 'always()');
    assert.equal(ping.env?.PING_URL, '${{ secrets.OFFSITE_STATUS_PING_URL }}');
    const withoutFiles = generate({ files: false }).parsed;
    assert.equal(offsiteStep(job(withoutFiles, 'status')).run, 'offsite status --max-age db=2h');
  });

  it('publishes the backup health page after each freshness check, whatever it found, as an artifact per environment', () => {
    const { parsed, yaml } = generate({ maxAge: { db: '90m', files: '30h' } });
    const steps = job(parsed, 'status').steps;
    const check = steps.findIndex((s) => s.run?.startsWith('offsite status'));
    const [report, upload] = [steps[check + 1], steps[check + 2]];
    assert.equal(report?.run, 'offsite report --html offsite-report.html --max-age db=90m --max-age files=30h');
    assert.equal(report.env?.AWS_ACCESS_KEY_ID, '${{ secrets.OFFSITE_READER_ACCESS_KEY_ID }}');
    assert.ok(!JSON.stringify(report).includes('IDENTITY'), 'made without the identity: the artifact is not secret');
    assert.equal(upload?.uses, 'actions/upload-artifact@v4');
    assert.deepEqual(upload.with, {
      name: 'offsite-report-${{ matrix.environment }}',
      path: 'offsite-report.html',
      'if-no-files-found': 'ignore',
      'retention-days': 7,
    });
    for (const step of [report, upload]) {
      assert.equal(step.if, '${{ !cancelled() }}', 'also after a failed check');
      assert.equal((step as { 'continue-on-error'?: boolean })['continue-on-error'], true, 'never fails the check');
    }
    assert.equal(steps.at(-1)?.name, "Ping the dead-man's switch", 'the ping still reports the check');
    assert.match(yaml, /# The backup health page \(offsite report\)/);
  });

  it('keeps the files backup incremental with actions/cache, and splits it into shards sharing one run id', () => {
    const single = job(generate().parsed, 'backup-files');
    assert.equal(offsiteStep(single).run, 'mkdir -p .offsite-state\noffsite backup files');
    assert.equal(single.env.OFFSITE_FILES_STATE_CACHE, '${{ github.workspace }}/.offsite-state/files-state.jsonl');
    const cache = single.steps.find((s) => s.uses === 'actions/cache@v4');
    assert.equal(cache?.with?.path, '.offsite-state');
    assert.equal(cache.with['restore-keys'], 'offsite-files-state-${{ matrix.environment }}-');
    assert.ok(
      single.steps.indexOf(cache) < single.steps.indexOf(offsiteStep(single)),
      'the cache is restored before the backup',
    );

    const sharded = job(generate({ filesShards: 3 }).parsed, 'backup-files');
    assert.deepEqual(sharded.strategy.matrix.shard, [0, 1, 2]);
    assert.match(
      offsiteStep(sharded).run ?? '',
      /offsite backup files --shard \$\{\{ matrix\.shard \}\}\/3 --run-id github-\$\{\{ github\.run_id \}\}$/,
    );
    assert.equal(sharded.concurrency.group, 'offsite-backup-files-${{ matrix.environment }}-${{ matrix.shard }}');
    assert.match(sharded.env.OFFSITE_FILES_STATE_CACHE ?? '', /files-state-\$\{\{ matrix\.shard \}\}\.jsonl$/);
  });

  it('leaves out the files backup and the drill when asked, with their secrets', () => {
    const { parsed, inputs } = generate({ files: false, drill: false });
    assert.deepEqual(Object.keys(parsed.jobs), ['backup-db', 'status']);
    assert.deepEqual(
      parsed.on.schedule.map((s) => s.cron),
      ['17 * * * *', '47 * * * *'],
    );
    const names = inputs.map((i) => i.name);
    for (const gone of ['OFFSITE_AGE_IDENTITY', 'OFFSITE_SOURCE_ACCESS_KEY_ID', 'OFFSITE_SOURCE_BUCKET'])
      assert.ok(!names.includes(gone), gone);
  });

  for (const variant of [
    {},
    { files: false },
    { drill: false },
    { filesShards: 4 },
  ] as Partial<GithubWorkflowOptions>[]) {
    it(`lists exactly the secrets and variables it reads (${JSON.stringify(variant)})`, () => {
      const { yaml, inputs } = generate(variant);
      const listed = (kind: 'secret' | 'variable') => new Set(inputs.filter((i) => i.kind === kind).map((i) => i.name));
      assert.deepEqual(references(yaml, 'secrets'), listed('secret'));
      assert.deepEqual(references(yaml, 'vars'), listed('variable'));
    });
  }

  it('never inlines a secret value: every secret-looking variable comes from ${{ secrets.X }}', () => {
    const { parsed } = generate({ filesShards: 2 });
    const secretLike = /(SECRET|PASSWORD|ACCESS_KEY_ID|DATABASE_URL|IDENTITY$|PING_URL|TOKEN)/;
    const envs = [
      parsed.env,
      ...Object.values(parsed.jobs).flatMap((j) => [j.env, ...j.steps.map((s) => s.env ?? {})]),
    ];
    let checked = 0;
    for (const env of envs) {
      for (const [name, value] of Object.entries(env)) {
        if (!secretLike.test(name) || name === 'OFFSITE_AGE_IDENTITY_FILE') continue;
        assert.match(value, /^\$\{\{ secrets\.[A-Z0-9_]+ \}\}$/, `${name} is a secret reference`);
        checked += 1;
      }
    }
    assert.ok(checked >= 10, `checked ${checked} secret variables`);
  });

  it('marks per-environment inputs as environment-scoped', () => {
    const { inputs } = generate();
    const scope = (name: string) => inputs.find((i) => i.name === name)?.scope;
    assert.equal(scope('DATABASE_URL'), 'environment');
    assert.equal(scope('OFFSITE_SOURCE_SECRET_ACCESS_KEY'), 'environment');
    assert.equal(scope('OFFSITE_WRITER_ACCESS_KEY_ID'), 'repository');
    assert.equal(scope('OFFSITE_BUCKET'), 'repository');
  });

  describe("the backup step's script, run by bash as the runner runs it, with a stand-in offsite", () => {
    const dir = mkdtempSync(join(tmpdir(), 'offsite-workflow-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const script = offsiteStep(job(generate().parsed, 'backup-db')).run ?? '';
    const bin = join(dir, 'bin');
    const seen = join(dir, 'seen.json');
    // Records what offsite would see: its argv, the dedup variables, and the key file's mode and text.
    writeFileSync(
      join(dir, 'offsite.mjs'),
      [
        "import { readFileSync, statSync, writeFileSync } from 'node:fs';",
        'const file = process.env.OFFSITE_DEDUP_KEY_FILE;',
        'writeFileSync(process.env.SEEN, JSON.stringify({',
        '  argv: process.argv.slice(2), file, secret: process.env.OFFSITE_DEDUP_KEY ?? null,',
        "  mode: file ? (statSync(file).mode & 0o777).toString(8) : null, text: file ? readFileSync(file, 'utf8') : null,",
        '}));',
      ].join('\n'),
    );
    mkdirSync(bin);
    writeFileSync(join(bin, 'offsite'), `#!/bin/sh\nexec "${process.execPath}" "${join(dir, 'offsite.mjs')}" "$@"\n`);
    chmodSync(join(bin, 'offsite'), 0o755);
    const run = (dedupKey: string) => {
      const workspace = mkdtempSync(join(dir, 'workspace-'));
      const runnerTemp = mkdtempSync(join(dir, 'runner-temp-'));
      // GitHub runs a `shell: bash` step as `bash --noprofile --norc -eo pipefail {0}`.
      writeFileSync(join(runnerTemp, 'step.sh'), script);
      const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', join(runnerTemp, 'step.sh')], {
        cwd: workspace,
        encoding: 'utf8',
        env: {
          PATH: `${bin}:${process.env.PATH ?? ''}`,
          RUNNER_TEMP: runnerTemp,
          SEEN: seen,
          OFFSITE_DEDUP_KEY: dedupKey,
        },
      });
      assert.equal(result.status, 0, result.stderr);
      const recorded = JSON.parse(readFileSync(seen, 'utf8')) as {
        argv: string[];
        file?: string;
        secret: string | null;
        mode: string | null;
        text: string | null;
      };
      return { ...recorded, workspace, runnerTemp, stdout: result.stdout };
    };
    const KEY = 'offsite-dedup-key-1:c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3JldCE=';

    it('hands a set secret to offsite as a 0600 key file outside the cached folder, and removes it afterwards', () => {
      const seenRun = run(KEY);
      assert.deepEqual(seenRun.argv, ['backup', 'db']);
      assert.equal(seenRun.text, `${KEY}\n`);
      assert.equal(seenRun.mode, '600');
      assert.equal(seenRun.secret, null, "the secret itself is out of offsite's environment");
      assert.ok(seenRun.file?.startsWith(seenRun.runnerTemp), `${seenRun.file ?? ''} is in RUNNER_TEMP`);
      assert.equal(existsSync(seenRun.file ?? ''), false, 'the key file is gone when the step ends');
      assert.ok(
        existsSync(join(seenRun.workspace, '.offsite-db-index')),
        'the cached folder exists for the cache to save',
      );
      assert.doesNotMatch(seenRun.stdout, /c2VjcmV0/, 'the key is never printed');
    });

    it('falls back to the single layout when the secret is empty or not configured', () => {
      const seenRun = run('');
      assert.deepEqual(seenRun.argv, ['backup', 'db']);
      assert.equal(seenRun.file, undefined, 'no OFFSITE_DEDUP_KEY_FILE: offsite chooses the single layout');
      assert.match(seenRun.stdout, /single layout/);
    });
  });

  it('refuses bad options with a message naming them', () => {
    assert.throws(() => generate({ environments: [] }), /at least one environment/);
    assert.throws(() => generate({ environments: ['prod/eu'] }), /environment "prod\/eu" is not a valid name/);
    assert.throws(() => generate({ environments: ['a', 'a'] }), /named twice/);
    assert.throws(
      () => generate({ schedules: { ...DEFAULT_WORKFLOW_OPTIONS.schedules, db: '@hourly' } }),
      /db schedule "@hourly"/,
    );
    assert.throws(
      () => generate({ schedules: { ...DEFAULT_WORKFLOW_OPTIONS.schedules, status: '17 * * * *' } }),
      /its own schedule/,
    );
    assert.throws(() => generate({ filesShards: 0 }), /shards/);
  });
});
