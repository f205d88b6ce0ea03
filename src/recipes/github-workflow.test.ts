import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
    assert.equal(offsiteStep(db).run, 'offsite backup db');
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
