/**
 * The deployment recipes under deploy/: Kubernetes manifests parsed and checked for the wiring that matters
 * (shards, run id, secrets by reference, non-root read-only pods), systemd units through `systemd-analyze verify`
 * where it exists, and the Dockerfile's user and entrypoint (the image itself is built only with OFFSITE_TEST_DOCKER=1).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { tempDir } from './helpers/backup-env.js';
import { REPO_DIR } from './helpers/stack.js';

const execFileAsync = promisify(execFile);
const DEPLOY = join(REPO_DIR, 'deploy');

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Container {
  args?: string[];
  env?: EnvVar[];
  envFrom?: { secretRef?: { name: string } }[];
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  volumes?: { name: string; emptyDir?: object }[];
}
interface JobSpec {
  completionMode?: string;
  completions?: number;
  parallelism?: number;
  template: { spec: PodSpec };
}
interface Manifest {
  kind: string;
  metadata: { name?: string; generateName?: string };
  spec: Record<string, unknown>;
}

function manifests(): { file: string; manifest: Manifest }[] {
  const dir = join(DEPLOY, 'kubernetes');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => {
        assert.deepEqual(doc.errors, [], `${file} parses`);
        return { file, manifest: doc.toJS() as Manifest };
      }),
    );
}

const manifest = (file: string): Manifest => {
  const found = manifests().find((m) => m.file === file);
  assert.ok(found, `deploy/kubernetes/${file}`);
  return found.manifest;
};

function jobSpecOf(m: Manifest): JobSpec | undefined {
  if (m.kind === 'Job') return m.spec as unknown as JobSpec;
  if (m.kind === 'CronJob') return (m.spec.jobTemplate as { spec: JobSpec }).spec;
  return undefined;
}

function podSpecOf(m: Manifest): PodSpec | undefined {
  if (m.kind === 'Deployment') return (m.spec.template as { spec: PodSpec }).spec;
  return jobSpecOf(m)?.template.spec;
}

const SECRET_LIKE = /(SECRET|PASSWORD|ACCESS_KEY_ID|DATABASE_URL|TOKEN|IDENTITY$)/;

describe('Kubernetes manifests', () => {
  it('are the expected kinds, all parseable', () => {
    const kinds = manifests().map(({ file, manifest: m }) => `${file}:${m.kind}`);
    assert.deepEqual(kinds, [
      'cronjob-db.yaml:CronJob',
      'cronjob-files-sharded.yaml:CronJob',
      'deployment-schedule.yaml:Deployment',
      'indexed-job-files.yaml:Job',
      'pvc-files-state.yaml:PersistentVolumeClaim',
    ]);
  });

  it('run the database backup hourly, never two at once', () => {
    const cron = manifest('cronjob-db.yaml');
    assert.equal(cron.spec.schedule, '17 * * * *');
    assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
    assert.deepEqual(podSpecOf(cron)?.containers[0]?.args, ['backup', 'db']);
  });

  for (const file of ['indexed-job-files.yaml', 'cronjob-files-sharded.yaml']) {
    it(`${file}: an Indexed Job whose pods take their shard from the completion index and share the Job's name as run id`, () => {
      const spec = jobSpecOf(manifest(file));
      assert.ok(spec);
      assert.equal(spec.completionMode, 'Indexed');
      const container = spec.template.spec.containers[0];
      const args = container?.args ?? [];
      const shard = args[args.indexOf('--shard') + 1];
      assert.equal(shard, `$(JOB_COMPLETION_INDEX)/${spec.completions}`, '--shard i/n with n = completions');
      assert.equal(spec.parallelism, spec.completions);
      assert.deepEqual(args.slice(0, 2), ['backup', 'files']);
      assert.equal(args[args.indexOf('--run-id') + 1], '$(OFFSITE_RUN_ID)');
      const runId = container?.env?.find((e) => e.name === 'OFFSITE_RUN_ID');
      assert.equal(runId?.valueFrom?.fieldRef?.fieldPath, "metadata.labels['batch.kubernetes.io/job-name']");
      assert.match(
        args[args.indexOf('--state-cache') + 1] ?? '',
        /shard-\$\(JOB_COMPLETION_INDEX\)-of-\d+\.jsonl$/,
        'one incremental cache per shard',
      );
    });
  }

  it('the sharded CronJob runs the same Indexed Job as the one-off form', () => {
    const fromCron = jobSpecOf(manifest('cronjob-files-sharded.yaml'));
    const oneOff = jobSpecOf(manifest('indexed-job-files.yaml'));
    assert.deepEqual(fromCron, oneOff);
    assert.equal(manifest('cronjob-files-sharded.yaml').spec.concurrencyPolicy, 'Forbid');
  });

  it('run every pod as non-root on a read-only root file system with an emptyDir /tmp', () => {
    let pods = 0;
    for (const { file, manifest: m } of manifests()) {
      const pod = podSpecOf(m);
      if (!pod) continue;
      pods += 1;
      assert.equal(pod.securityContext?.runAsNonRoot, true, file);
      assert.ok((pod.securityContext.runAsUser ?? 0) > 0, `${file}: a numeric non-root user`);
      for (const container of pod.containers) {
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, file);
        assert.equal(container.securityContext.allowPrivilegeEscalation, false, file);
        const tmp = container.volumeMounts?.find((v) => v.mountPath === '/tmp');
        assert.ok(tmp, `${file}: /tmp is mounted`);
        assert.ok(pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir, `${file}: /tmp is an emptyDir`);
      }
    }
    assert.equal(pods, 4);
  });

  it('take every secret from a Secret by reference, never inline', () => {
    let references = 0;
    for (const { file, manifest: m } of manifests()) {
      assert.notEqual(m.kind, 'Secret', `${file} must not carry a Secret`);
      for (const container of podSpecOf(m)?.containers ?? []) {
        for (const env of container.env ?? []) {
          if (!SECRET_LIKE.test(env.name)) continue;
          assert.equal(env.value, undefined, `${file}: ${env.name} has an inline value`);
          assert.ok(env.valueFrom?.secretKeyRef?.name, `${file}: ${env.name} comes from a secretKeyRef`);
          references += 1;
        }
        references += (container.envFrom ?? []).filter((from) => from.secretRef?.name).length;
      }
    }
    assert.ok(references >= 10, `${references} secret references`);
  });
});

describe('systemd units', () => {
  const units = readdirSync(join(DEPLOY, 'systemd')).sort();
  const dir = tempDir();
  after(() => dir.remove());
  const hasVerify = spawnSync('systemd-analyze', ['--version']).status === 0;
  const skip = hasVerify ? false : 'systemd-analyze is not installed (Debian package systemd)';

  it('are the backup templates, their timers and the scheduler', () => {
    assert.deepEqual(units, [
      'offsite-backup-db@.service',
      'offsite-backup-db@.timer',
      'offsite-backup-files@.service',
      'offsite-backup-files@.timer',
      'offsite-schedule.service',
    ]);
  });

  it('read settings from a per-environment file and run sandboxed as a throw-away user', () => {
    for (const unit of units.filter((u) => u.endsWith('.service'))) {
      const text = readFileSync(join(DEPLOY, 'systemd', unit), 'utf8');
      for (const line of [
        'DynamicUser=yes',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'PrivateTmp=yes',
        'CapabilityBoundingSet=',
        'UMask=0077',
      ]) {
        assert.match(text, new RegExp(`^${line}$`, 'm'), `${unit}: ${line}`);
      }
      assert.match(
        text,
        unit.includes('@')
          ? /^EnvironmentFile=\/etc\/offsite\/%i\.env$/m
          : /^EnvironmentFile=\/etc\/offsite\/schedule\.env$/m,
        unit,
      );
      assert.doesNotMatch(text, /^Environment=.*(SECRET|PASSWORD|DATABASE_URL)/m, `${unit}: no secret inline`);
    }
  });

  // verify checks that ExecStart's binary exists: a root with a stand-in /usr/local/bin/offsite supplies it.
  async function verify(files: Record<string, string>): Promise<{ code: number; output: string }> {
    const root = join(dir.path, `root-${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    writeFileSync(join(root, 'usr/local/bin/offsite'), '#!/bin/sh\n');
    chmodSync(join(root, 'usr/local/bin/offsite'), 0o755);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'etc/systemd/system', name), text);
    const instances = Object.keys(files).map((name) => name.replace('@.', '@production.'));
    try {
      const { stdout, stderr } = await execFileAsync('systemd-analyze', [
        'verify',
        `--root=${root}`,
        '--recursive-errors=no',
        ...instances,
      ]);
      return { code: 0, output: stdout + stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, output: e.stdout + e.stderr };
    }
  }

  it('pass systemd-analyze verify without a warning', { skip }, async () => {
    const files = Object.fromEntries(units.map((u) => [u, readFileSync(join(DEPLOY, 'systemd', u), 'utf8')]));
    const result = await verify(files);
    assert.equal(result.output, '');
    assert.equal(result.code, 0);
  });

  it('(control) systemd-analyze verify does reject a broken unit', { skip }, async () => {
    const text = readFileSync(join(DEPLOY, 'systemd', 'offsite-backup-db@.timer'), 'utf8').replace(
      /^OnCalendar=.*$/m,
      'OnCalendar=every full moon',
    );
    const result = await verify({
      'offsite-backup-db@.timer': text,
      'offsite-backup-db@.service': readFileSync(join(DEPLOY, 'systemd', 'offsite-backup-db@.service'), 'utf8'),
    });
    assert.notEqual(result.code, 0);
    assert.match(result.output, /Failed to parse calendar specification/);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'docker/Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((line) => /^[A-Z]+ /.test(line));

  it('runs offsite as a numeric non-root user, on node bookworm-slim with the PGDG PostgreSQL client', () => {
    const users = instructions.filter((line) => line.startsWith('USER '));
    assert.equal(users.length, 1);
    const [uid] = (users[0] ?? '').slice(5).split(':');
    assert.match(uid ?? '', /^\d+$/, 'numeric, so that Kubernetes can check runAsNonRoot');
    assert.notEqual(Number(uid), 0);
    assert.ok(
      instructions.indexOf(users[0] ?? '') > instructions.findLastIndex((line) => line.startsWith('FROM ')),
      'USER is in the final stage',
    );
    assert.ok(instructions.includes('ENTRYPOINT ["offsite"]'));
    assert.deepEqual(
      instructions.filter((line) => line.startsWith('FROM ')).map((line) => line.split(' ')[1]),
      ['node:${NODE_MAJOR}-bookworm-slim', 'node:${NODE_MAJOR}-bookworm-slim'],
    );
    assert.match(dockerfile, /apt\.postgresql\.org\.sh -y/);
    assert.match(dockerfile, /postgresql-client-\$\{PG_MAJOR\}/);
    assert.match(dockerfile, /npm prune --omit=dev/);
  });

  const dockerWorks = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
  const skip =
    process.env.OFFSITE_TEST_DOCKER !== '1'
      ? 'building the image takes minutes: set OFFSITE_TEST_DOCKER=1'
      : dockerWorks
        ? false
        : 'docker is not usable here (docker info fails)';

  it('builds an image that runs offsite as a non-root user', { skip, timeout: 900_000 }, async () => {
    const tag = `offsite-test:${Date.now()}`;
    await execFileAsync('docker', ['build', '-f', 'deploy/docker/Dockerfile', '-t', tag, '.'], {
      cwd: REPO_DIR,
      maxBuffer: 64 * 1024 * 1024,
    });
    try {
      const version = await execFileAsync('docker', [
        'run',
        '--rm',
        '--read-only',
        '--tmpfs',
        '/tmp',
        tag,
        '--version',
      ]);
      assert.equal(
        version.stdout.trim(),
        (JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as { version: string }).version,
      );
      const id = await execFileAsync('docker', ['run', '--rm', '--entrypoint', 'id', tag, '-u']);
      assert.notEqual(id.stdout.trim(), '0');
      const pgDump = await execFileAsync('docker', ['run', '--rm', '--entrypoint', 'pg_dump', tag, '--version']);
      assert.match(pgDump.stdout, /pg_dump \(PostgreSQL\) \d+/);
    } finally {
      await execFileAsync('docker', ['image', 'rm', '-f', tag]).catch(() => undefined);
    }
  });
});
