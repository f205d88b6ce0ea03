/**
 * The GitHub Actions workflow `offsite init github-actions` writes (pure: options → YAML text and the
 * secrets and variables it uses). It replaces the original pipeline (docs/dev/original-pipeline.md): hourly
 * database backups per environment, each verified with the reader's key right after it, daily files backups and
 * restore drills, and an hourly freshness check that also publishes the backup health page (offsite report) as an
 * artifact of its run. Secrets reach only the steps that run offsite, through their
 * environment, never argv.
 */
import { Document, isMap, isScalar, Scalar, type Node } from 'yaml';
import { isValidEnvironment } from '../format/layout.js';
import { describeInstallSource, installCommands, type InstallSource } from './install-source.js';

export interface WorkflowSchedules {
  db: string;
  files: string;
  drill: string;
  status: string;
}

export interface GithubWorkflowOptions {
  /** GitHub environment names, also the backups' environment folders. */
  environments: string[];
  /** The version of the Offsite that wrote the workflow, named in its header. */
  offsiteVersion: string;
  /** Where every job installs Offsite from: a pinned commit or a checksummed tarball, never a registry name. */
  install: InstallSource;
  nodeVersion: string;
  /** pg_dump must be of the server's major or newer, so the newest major serves every server. */
  postgresMajor: number;
  schedules: WorkflowSchedules;
  files: boolean;
  drill: boolean;
  /** Workers per environment for the files backup (`--shard i/n`); 1 for none. */
  filesShards: number;
  maxAge: { db: string; files: string };
}

export const DEFAULT_WORKFLOW_OPTIONS: Omit<GithubWorkflowOptions, 'offsiteVersion' | 'install'> = {
  environments: ['production', 'staging'],
  nodeVersion: '20',
  postgresMajor: 18,
  // Off the hour: GitHub delays scheduled runs most at minute 0.
  schedules: { db: '17 * * * *', files: '37 2 * * *', drill: '7 5 * * *', status: '47 * * * *' },
  files: true,
  drill: true,
  filesShards: 1,
  maxAge: { db: '2h', files: '26h' },
};

/** A secret (`secrets.X`) or configuration variable (`vars.X`) the workflow reads, and where it must be set. */
export interface WorkflowInput {
  name: string;
  kind: 'secret' | 'variable';
  /** repository: one value for all; environment: one value in each GitHub environment. */
  scope: 'repository' | 'environment';
  required: boolean;
  purpose: string;
}

export interface GithubWorkflow {
  yaml: string;
  inputs: WorkflowInput[];
}

const CRON = /^\S+ \S+ \S+ \S+ \S+$/;

export function githubWorkflow(options: GithubWorkflowOptions): GithubWorkflow {
  check(options);
  const inputs = workflowInputs(options);
  const jobs: Record<string, unknown> = { 'backup-db': backupDbJob(options) };
  if (options.files) jobs['backup-files'] = backupFilesJob(options);
  if (options.drill) jobs.drill = drillJob(options);
  jobs.status = statusJob(options);
  const cronComments = new Map<string, string>([
    [options.schedules.db, 'database backups'],
    [options.schedules.status, 'freshness check'],
    ...(options.files ? [[options.schedules.files, 'files backups'] as [string, string]] : []),
    ...(options.drill ? [[options.schedules.drill, 'restore drills'] as [string, string]] : []),
  ]);
  const workflow = {
    name: 'offsite',
    on: {
      schedule: [...cronComments.keys()].map((cron) => ({ cron })),
      workflow_dispatch: {
        inputs: {
          job: { description: 'the job to run now', type: 'choice', options: Object.keys(jobs), default: 'backup-db' },
        },
      },
    },
    permissions: {},
    env: {
      OFFSITE_BUCKET: '${{ vars.OFFSITE_BUCKET }}',
      OFFSITE_PREFIX: '${{ vars.OFFSITE_PREFIX }}',
      OFFSITE_S3_ENDPOINT: '${{ vars.OFFSITE_S3_ENDPOINT }}',
      OFFSITE_S3_FORCE_PATH_STYLE: '${{ vars.OFFSITE_S3_FORCE_PATH_STYLE }}',
      AWS_REGION: '${{ vars.AWS_REGION }}',
    },
    jobs,
  };
  const doc = new Document(workflow, { aliasDuplicateObjects: false });
  doc.commentBefore = header(options);
  comment(doc, ['permissions'], 'No job needs the GITHUB_TOKEN: nothing of this repository is checked out.');
  comment(
    doc,
    ['env'],
    'Not secret: configuration variables (Settings → Secrets and variables → Actions → Variables). Unset ones are ignored.',
  );
  comment(
    doc,
    ['jobs', 'backup-db', 'concurrency'],
    'A run still going makes the next one wait: never two backups of one database at once.',
  );
  const dbSetup = setupSteps(options, true).length;
  comment(
    doc,
    ['jobs', 'backup-db', 'steps', dbSetup],
    [
      'The chunk index: which chunks of earlier dumps are already in which pack. Without it every backup uploads the',
      'whole dump again (correct, only slower and bigger). Saved only when the job succeeds, so an index that failed',
      'the verify below is never kept. It holds chunk ids and pack names, no data and no key.',
    ].join('\n'),
  );
  comment(
    doc,
    ['jobs', 'backup-db', 'steps', dbSetup + 2],
    [
      'The writer can only put objects, so it trusts its chunk index blindly: a stale or tampered index could make a',
      'backup that references packs the bucket does not have. The reader checks, with no key, that every pack of the',
      'new backup exists, has its size and stays locked long enough, and fails the job when not.',
    ].join('\n'),
  );
  if (options.files) {
    comment(
      doc,
      ['jobs', 'backup-files', 'steps', setupSteps(options, false).length],
      [
        'The incremental cache: what was uploaded and until when it stays locked. Without it a run uploads every object again.',
        "It holds the source bucket's object keys, so anyone who can run workflows in this repository can read them.",
      ].join('\n'),
    );
  }
  if (options.drill) {
    comment(
      doc,
      ['jobs', 'drill'],
      [
        'The drill needs the private age identity, which the backups are designed to keep away from the machines that run them:',
        'stored here, anyone who can change this workflow or read its secrets can decrypt every backup. It also restores',
        "production data onto GitHub's runner. To keep the identity out of CI, run `offsite drill` on a machine of your own",
        '(docs/deploy.md, systemd or Kubernetes) and remove this job.',
      ].join('\n'),
    );
  }
  comment(
    doc,
    ['jobs', 'status', 'steps', setupSteps(options, false).length + 1],
    [
      'The backup health page (offsite report), from what is in the bucket, kept a week as an artifact of each run.',
      'Whatever the check found, and never failing the job: the check is the alarm, the page is for a look. Made',
      'without the identity, so it holds no table names or row counts: artifacts are readable by all who can read this repository.',
    ].join('\n'),
  );
  [...cronComments.values()].forEach((what, index) => {
    const cron = doc.getIn(['on', 'schedule', index, 'cron'], true);
    if (isScalar(cron)) {
      cron.type = Scalar.QUOTE_SINGLE;
      cron.comment = ` ${what} (UTC)`;
    }
  });
  return { yaml: doc.toString({ lineWidth: 0 }), inputs };
}

function check(options: GithubWorkflowOptions): void {
  if (options.environments.length === 0) throw new Error('at least one environment is needed');
  for (const environment of options.environments) {
    if (!isValidEnvironment(environment))
      throw new Error(`environment "${environment}" is not a valid name (letters, digits, ".", "_", "-")`);
  }
  if (new Set(options.environments).size !== options.environments.length)
    throw new Error('an environment is named twice');
  for (const job of Object.keys(options.schedules) as (keyof WorkflowSchedules)[]) {
    const cron = options.schedules[job];
    if (!CRON.test(cron)) throw new Error(`the ${job} schedule "${cron}" is not a cron expression of five fields`);
  }
  const crons = [
    options.schedules.db,
    options.schedules.status,
    ...(options.files ? [options.schedules.files] : []),
    ...(options.drill ? [options.schedules.drill] : []),
  ];
  if (new Set(crons).size !== crons.length)
    throw new Error('every job needs its own schedule: jobs are told apart by the cron that started the run');
  if (!Number.isInteger(options.filesShards) || options.filesShards < 1 || options.filesShards > 256)
    throw new Error('files shards must be an integer from 1 to 256');
  if (!Number.isInteger(options.postgresMajor) || options.postgresMajor < 10)
    throw new Error('the PostgreSQL major must be an integer of 10 or more');
}

function header(options: GithubWorkflowOptions): string {
  return [
    ` Offsite backups, written by \`offsite init github-actions\` (offsite ${options.offsiteVersion}). See docs/deploy.md.`,
    ` Offsite is installed from ${describeInstallSource(options.install)}: pinned, so nobody else's package can run with these secrets.`,
    ' Environments: ' + options.environments.join(', ') + '. Each is a GitHub environment holding its own secrets.',
    " GitHub may start scheduled runs late or skip them under load; the status job and an outside dead-man's switch catch that.",
  ].join('\n');
}

/** Sets a comment above the key at `path` (or above the item, in a sequence). */
function comment(doc: Document, path: (string | number)[], text: string): void {
  const parent = doc.getIn(path.slice(0, -1), true);
  const last = path.at(-1);
  if (isMap(parent)) {
    const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === last);
    if (pair && isScalar(pair.key)) {
      pair.key.commentBefore = text
        .split('\n')
        .map((line) => ` ${line}`)
        .join('\n');
      return;
    }
  }
  const node = doc.getIn(path, true) as Node | undefined;
  if (!node) throw new Error(`no node at ${path.join('.')}`);
  node.commentBefore = text
    .split('\n')
    .map((line) => ` ${line}`)
    .join('\n');
}

const runsIf = (options: GithubWorkflowOptions, job: keyof WorkflowSchedules): string =>
  `github.event.schedule == '${options.schedules[job]}' || inputs.job == '${job === 'db' ? 'backup-db' : job === 'files' ? 'backup-files' : job}'`;

const secret = (name: string): string => `\${{ secrets.${name} }}`;
const variable = (name: string): string => `\${{ vars.${name} }}`;

function setupSteps(options: GithubWorkflowOptions, postgres: boolean): unknown[] {
  return [
    { uses: 'actions/setup-node@v4', with: { 'node-version': options.nodeVersion } },
    ...(postgres
      ? [
          {
            name: `Install the PostgreSQL ${options.postgresMajor} client from the PGDG repository`,
            run: [
              'sudo apt-get update -qq',
              'sudo apt-get install -y -qq --no-install-recommends postgresql-common',
              'sudo /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y',
              `sudo apt-get install -y -qq --no-install-recommends postgresql-client-${options.postgresMajor}`,
            ].join('\n'),
          },
        ]
      : []),
    {
      name: 'Install Offsite from its pinned source',
      run: [
        ...installCommands(options.install, '$RUNNER_TEMP/offsite'),
        'echo "$RUNNER_TEMP/offsite/node_modules/.bin" >> "$GITHUB_PATH"',
      ].join('\n'),
    },
  ];
}

const matrixOf = (options: GithubWorkflowOptions, extra: Record<string, unknown> = {}) => ({
  'fail-fast': false,
  matrix: { environment: options.environments, ...extra },
});

/** The cached folder of the database backup's chunk index, relative to the workspace. */
const DB_INDEX_DIR = '.offsite-db-index';

function backupDbJob(options: GithubWorkflowOptions): Record<string, unknown> {
  // "/" cannot occur in an environment name, so one environment's prefix never restores another's index.
  const cacheKey = 'offsite-db-chunk-index/${{ matrix.environment }}/';
  return {
    name: 'backup db (${{ matrix.environment }})',
    if: runsIf(options, 'db'),
    'runs-on': 'ubuntu-24.04',
    'timeout-minutes': 50,
    strategy: matrixOf(options),
    environment: '${{ matrix.environment }}',
    concurrency: { group: 'offsite-backup-db-${{ matrix.environment }}', 'cancel-in-progress': false },
    env: {
      OFFSITE_ENVIRONMENT: '${{ matrix.environment }}',
      OFFSITE_AGE_RECIPIENTS: variable('OFFSITE_AGE_RECIPIENTS'),
      OFFSITE_DB_CHUNK_INDEX: `\${{ github.workspace }}/${DB_INDEX_DIR}/chunk.index`,
      // The mass-deletion alarm's row counts of the last backup, in the same cached folder.
      OFFSITE_DB_ROW_COUNT_STATE: `\${{ github.workspace }}/${DB_INDEX_DIR}/row.counts`,
    },
    steps: [
      ...setupSteps(options, true),
      {
        uses: 'actions/cache@v4',
        with: {
          path: DB_INDEX_DIR,
          // A cache entry never changes, so every run saves a new one and restores the newest.
          key: `${cacheKey}\${{ github.run_id }}-\${{ github.run_attempt }}`,
          'restore-keys': cacheKey,
        },
      },
      {
        name: 'Back up the database',
        env: {
          DATABASE_URL: secret('DATABASE_URL'),
          AWS_ACCESS_KEY_ID: secret('OFFSITE_WRITER_ACCESS_KEY_ID'),
          AWS_SECRET_ACCESS_KEY: secret('OFFSITE_WRITER_SECRET_ACCESS_KEY'),
          OFFSITE_DEDUP_KEY: secret('OFFSITE_DEDUP_KEY'),
        },
        shell: 'bash',
        run: [
          `mkdir -p ${DB_INDEX_DIR}`,
          // Outside the cached folder: the key never goes into the Actions cache.
          'if [ -n "$OFFSITE_DEDUP_KEY" ]; then',
          '  dedup_key="$RUNNER_TEMP/offsite-dedup.key"',
          '  trap \'rm -f "$dedup_key"\' EXIT',
          '  umask 077',
          '  printf \'%s\\n\' "$OFFSITE_DEDUP_KEY" > "$dedup_key"',
          '  chmod 600 "$dedup_key"',
          '  export OFFSITE_DEDUP_KEY_FILE="$dedup_key"',
          'else',
          '  echo "No OFFSITE_DEDUP_KEY secret: the backup is one object of the whole dump (the single layout)."',
          'fi',
          'unset OFFSITE_DEDUP_KEY',
          'offsite backup db',
        ].join('\n'),
      },
      {
        name: "Verify the new backup with the reader's key",
        env: {
          AWS_ACCESS_KEY_ID: secret('OFFSITE_READER_ACCESS_KEY_ID'),
          AWS_SECRET_ACCESS_KEY: secret('OFFSITE_READER_SECRET_ACCESS_KEY'),
        },
        run: 'offsite verify latest',
      },
    ],
  };
}

function backupFilesJob(options: GithubWorkflowOptions): Record<string, unknown> {
  const sharded = options.filesShards > 1;
  const shardSuffix = sharded ? '-${{ matrix.shard }}' : '';
  const stateFile = `\${{ github.workspace }}/.offsite-state/files-state${shardSuffix}.jsonl`;
  const command = sharded
    ? // github.run_id stays the same when failed jobs are re-run, so a retried shard joins its run's snapshot.
      `offsite backup files --shard \${{ matrix.shard }}/${options.filesShards} --run-id github-\${{ github.run_id }}`
    : 'offsite backup files';
  return {
    name: `backup files (\${{ matrix.environment }}${sharded ? `, shard \${{ matrix.shard }}/${options.filesShards}` : ''})`,
    if: runsIf(options, 'files'),
    'runs-on': 'ubuntu-24.04',
    'timeout-minutes': 360,
    strategy: matrixOf(options, sharded ? { shard: Array.from({ length: options.filesShards }, (_, i) => i) } : {}),
    environment: '${{ matrix.environment }}',
    concurrency: {
      group: `offsite-backup-files-\${{ matrix.environment }}${shardSuffix}`,
      'cancel-in-progress': false,
    },
    env: {
      OFFSITE_ENVIRONMENT: '${{ matrix.environment }}',
      OFFSITE_AGE_RECIPIENTS: variable('OFFSITE_AGE_RECIPIENTS'),
      OFFSITE_SOURCE_BUCKET: variable('OFFSITE_SOURCE_BUCKET'),
      OFFSITE_SOURCE_REGION: variable('OFFSITE_SOURCE_REGION'),
      OFFSITE_SOURCE_S3_ENDPOINT: variable('OFFSITE_SOURCE_S3_ENDPOINT'),
      OFFSITE_SOURCE_S3_FORCE_PATH_STYLE: variable('OFFSITE_SOURCE_S3_FORCE_PATH_STYLE'),
      OFFSITE_FILES_STATE_CACHE: stateFile,
    },
    steps: [
      ...setupSteps(options, false),
      {
        uses: 'actions/cache@v4',
        with: {
          path: '.offsite-state',
          // A cache entry never changes, so every run saves a new one and restores the newest.
          key: `offsite-files-state-\${{ matrix.environment }}${shardSuffix}-\${{ github.run_id }}-\${{ github.run_attempt }}`,
          'restore-keys': `offsite-files-state-\${{ matrix.environment }}${shardSuffix}-`,
        },
      },
      {
        name: 'Back up the files',
        env: {
          AWS_ACCESS_KEY_ID: secret('OFFSITE_WRITER_ACCESS_KEY_ID'),
          AWS_SECRET_ACCESS_KEY: secret('OFFSITE_WRITER_SECRET_ACCESS_KEY'),
          OFFSITE_SOURCE_ACCESS_KEY_ID: secret('OFFSITE_SOURCE_ACCESS_KEY_ID'),
          OFFSITE_SOURCE_SECRET_ACCESS_KEY: secret('OFFSITE_SOURCE_SECRET_ACCESS_KEY'),
        },
        run: ['mkdir -p .offsite-state', command].join('\n'),
      },
    ],
  };
}

function drillJob(options: GithubWorkflowOptions): Record<string, unknown> {
  return {
    name: 'restore drill (${{ matrix.environment }})',
    if: runsIf(options, 'drill'),
    'runs-on': 'ubuntu-24.04',
    'timeout-minutes': 120,
    strategy: matrixOf(options),
    concurrency: { group: 'offsite-drill-${{ matrix.environment }}', 'cancel-in-progress': false },
    // A throw-away server on the runner, reachable only from it; trust authentication spares a password secret.
    services: {
      scratch: {
        image: `postgres:${options.postgresMajor}`,
        env: { POSTGRES_HOST_AUTH_METHOD: 'trust' },
        ports: ['127.0.0.1:5432:5432'],
        options: '--health-cmd "pg_isready -U postgres" --health-interval 5s --health-timeout 5s --health-retries 30',
      },
    },
    env: {
      OFFSITE_ENVIRONMENT: '${{ matrix.environment }}',
      OFFSITE_TARGET_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
    },
    steps: [
      ...setupSteps(options, true),
      {
        name: 'Restore the newest backup into a scratch database and compare it with its manifest',
        env: {
          AWS_ACCESS_KEY_ID: secret('OFFSITE_READER_ACCESS_KEY_ID'),
          AWS_SECRET_ACCESS_KEY: secret('OFFSITE_READER_SECRET_ACCESS_KEY'),
          OFFSITE_AGE_IDENTITY: secret('OFFSITE_AGE_IDENTITY'),
        },
        shell: 'bash',
        run: [
          'identity="$RUNNER_TEMP/offsite-identity.txt"',
          'trap \'rm -f "$identity"\' EXIT',
          'umask 077',
          'printf \'%s\\n\' "$OFFSITE_AGE_IDENTITY" > "$identity"',
          'chmod 600 "$identity"',
          'unset OFFSITE_AGE_IDENTITY',
          'OFFSITE_AGE_IDENTITY_FILE="$identity" offsite drill',
        ].join('\n'),
      },
    ],
  };
}

/** The freshness check's page (offsite report). */
const REPORT_FILE = 'offsite-report.html';
/** An hourly page per environment: a week of them is enough to look back on. */
const REPORT_RETENTION_DAYS = 7;
const NOT_CANCELLED = '${{ !cancelled() }}';

function statusJob(options: GithubWorkflowOptions): Record<string, unknown> {
  const maxAge = [
    `--max-age db=${options.maxAge.db}`,
    ...(options.files ? [`--max-age files=${options.maxAge.files}`] : []),
  ].join(' ');
  const reader = {
    AWS_ACCESS_KEY_ID: secret('OFFSITE_READER_ACCESS_KEY_ID'),
    AWS_SECRET_ACCESS_KEY: secret('OFFSITE_READER_SECRET_ACCESS_KEY'),
  };
  return {
    name: 'freshness (${{ matrix.environment }})',
    if: runsIf(options, 'status'),
    'runs-on': 'ubuntu-24.04',
    'timeout-minutes': 10,
    strategy: matrixOf(options),
    concurrency: { group: 'offsite-status-${{ matrix.environment }}', 'cancel-in-progress': true },
    env: { OFFSITE_ENVIRONMENT: '${{ matrix.environment }}' },
    steps: [
      ...setupSteps(options, false),
      {
        name: 'Fail when the newest complete backup is too old',
        env: reader,
        run: `offsite status ${maxAge}`,
      },
      {
        name: 'Write the backup health page',
        if: NOT_CANCELLED,
        'continue-on-error': true,
        env: reader,
        run: `offsite report --html ${REPORT_FILE} ${maxAge}`,
      },
      {
        name: 'Publish it as an artifact of this run',
        if: NOT_CANCELLED,
        'continue-on-error': true,
        uses: 'actions/upload-artifact@v4',
        with: {
          name: 'offsite-report-${{ matrix.environment }}',
          path: REPORT_FILE,
          'if-no-files-found': 'ignore',
          'retention-days': REPORT_RETENTION_DAYS,
        },
      },
      {
        name: "Ping the dead-man's switch",
        // Outside GitHub, so that it also notices when these scheduled runs stop altogether.
        if: 'always()',
        env: { PING_URL: secret('OFFSITE_STATUS_PING_URL'), OUTCOME: '${{ job.status }}' },
        run: [
          '[ -n "$PING_URL" ] || exit 0',
          'if [ "$OUTCOME" = success ]; then curl -fsS -m 10 --retry 3 "$PING_URL"; else curl -fsS -m 10 --retry 3 "$PING_URL/fail"; fi',
        ].join('\n'),
      },
    ],
  };
}

function workflowInputs(options: GithubWorkflowOptions): WorkflowInput[] {
  const repo = (kind: WorkflowInput['kind'], name: string, required: boolean, purpose: string): WorkflowInput => ({
    name,
    kind,
    scope: 'repository',
    required,
    purpose,
  });
  const env = (kind: WorkflowInput['kind'], name: string, required: boolean, purpose: string): WorkflowInput => ({
    name,
    kind,
    scope: 'environment',
    required,
    purpose,
  });
  return [
    repo('secret', 'OFFSITE_WRITER_ACCESS_KEY_ID', true, "the writer's access key (s3:PutObject only), for backups"),
    repo('secret', 'OFFSITE_WRITER_SECRET_ACCESS_KEY', true, "the writer's secret key"),
    repo(
      'secret',
      'OFFSITE_READER_ACCESS_KEY_ID',
      true,
      `the reader's access key, to verify each database backup, for the freshness check${options.drill ? ' and drills' : ''}`,
    ),
    repo('secret', 'OFFSITE_READER_SECRET_ACCESS_KEY', true, "the reader's secret key"),
    repo(
      'secret',
      'OFFSITE_DEDUP_KEY',
      false,
      'the dedup key, for deduplicated (chunked) database backups: offsite keys generate --dedup -o dedup.key, then gh secret set OFFSITE_DEDUP_KEY < dedup.key; without it every backup is the whole dump',
    ),
    ...(options.drill
      ? [
          repo(
            'secret',
            'OFFSITE_AGE_IDENTITY',
            true,
            'the age identity file, for drills only: gh secret set OFFSITE_AGE_IDENTITY < identity.txt',
          ),
        ]
      : []),
    repo(
      'secret',
      'OFFSITE_STATUS_PING_URL',
      false,
      "a dead-man's-switch URL (healthchecks style; /fail is appended on failure)",
    ),
    env(
      'secret',
      'DATABASE_URL',
      true,
      'postgres://user:password@host:5432/db of that environment (a read-only role is enough)',
    ),
    ...(options.files
      ? [
          env(
            'secret',
            'OFFSITE_SOURCE_ACCESS_KEY_ID',
            true,
            "read and list access to that environment's files bucket",
          ),
          env('secret', 'OFFSITE_SOURCE_SECRET_ACCESS_KEY', true, 'its secret key'),
        ]
      : []),
    repo('variable', 'OFFSITE_BUCKET', true, 'the backup bucket'),
    repo('variable', 'AWS_REGION', true, "the backup bucket's region"),
    repo('variable', 'OFFSITE_AGE_RECIPIENTS', true, 'the age public keys, comma separated'),
    repo('variable', 'OFFSITE_PREFIX', false, 'a key prefix inside the backup bucket'),
    repo('variable', 'OFFSITE_S3_ENDPOINT', false, 'the S3 endpoint, for a server other than AWS'),
    repo('variable', 'OFFSITE_S3_FORCE_PATH_STYLE', false, 'true for path-style S3 addressing'),
    ...(options.files
      ? [
          env('variable', 'OFFSITE_SOURCE_BUCKET', true, "that environment's files bucket"),
          env('variable', 'OFFSITE_SOURCE_REGION', false, 'its region'),
          env('variable', 'OFFSITE_SOURCE_S3_ENDPOINT', false, 'its S3 endpoint, for a server other than AWS'),
          env('variable', 'OFFSITE_SOURCE_S3_FORCE_PATH_STYLE', false, 'true for path-style addressing'),
        ]
      : []),
  ];
}
