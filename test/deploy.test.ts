/**
 * The deployment recipes under deploy/: Kubernetes manifests parsed and checked for the wiring that matters
 * (shards, run id, secrets by reference, non-root read-only pods), systemd units through `systemd-analyze verify`
 * where it exists, and the Dockerfile's user and entrypoint (the image itself is built only with OFFSITE_TEST_DOCKER=1).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { secretRef?: { name: string } }[];
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Volume {
  name: string;
  emptyDir?: { medium?: string };
  persistentVolumeClaim?: { claimName: string };
  secret?: { secretName: string; defaultMode?: number };
}
interface PodSpec {
  restartPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number };
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
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

/** Every container of a pod, init containers (which run first, one after the other) included. */
const allContainers = (pod: PodSpec): Container[] => [...(pod.initContainers ?? []), ...pod.containers];
const envValue = (container: Container | undefined, name: string): EnvVar | undefined =>
  container?.env?.find((e) => e.name === name);
const secretOf = (container: Container | undefined, name: string): string | undefined =>
  envValue(container, name)?.valueFrom?.secretKeyRef?.name;
/** The volume mounted at the folder holding `path`, in that container. */
function volumeHolding(pod: PodSpec, container: Container | undefined, path: string): Volume | undefined {
  const mount = container?.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));
  return pod.volumes?.find((v) => v.name === mount?.name);
}

describe('Kubernetes manifests', () => {
  it('are the expected kinds, all parseable', () => {
    const kinds = manifests().map(({ file, manifest: m }) => `${file}:${m.kind}`);
    assert.deepEqual(kinds, [
      'cronjob-db.yaml:CronJob',
      'cronjob-files-sharded.yaml:CronJob',
      'deployment-schedule.yaml:Deployment',
      'indexed-job-files.yaml:Job',
      'pvc-db-chunk-index.yaml:PersistentVolumeClaim',
      'pvc-files-state.yaml:PersistentVolumeClaim',
      'pvc-schedule-cache.yaml:PersistentVolumeClaim',
    ]);
  });

  it('run the database backup hourly, never two at once', () => {
    const cron = manifest('cronjob-db.yaml');
    assert.equal(cron.spec.schedule, '17 * * * *');
    assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
    const backup = podSpecOf(cron)?.initContainers?.find((c) => c.name === 'backup');
    assert.deepEqual(backup?.args, ['backup', 'db']);
  });

  it("cronjob-db.yaml: verifies each backup with the reader's key after it, in a container that starts only once the backup succeeded", () => {
    const pod = podSpecOf(manifest('cronjob-db.yaml'));
    assert.ok(pod);
    // Init containers run in order, each only after the one before exited 0; the app containers after all of them.
    // With restartPolicy Never a failed one fails the pod, and so the Job.
    assert.equal(pod.restartPolicy, 'Never');
    assert.deepEqual(
      pod.initContainers?.map((c) => c.name),
      ['dedup-key', 'backup'],
    );
    assert.deepEqual(
      pod.containers.map((c) => [c.name, c.args]),
      [['verify', ['verify', 'latest']]],
    );
    const backup = pod.initContainers.find((c) => c.name === 'backup');
    const verify = pod.containers[0];
    const writerSecret = secretOf(backup, 'AWS_ACCESS_KEY_ID');
    const readerSecret = secretOf(verify, 'AWS_ACCESS_KEY_ID');
    assert.ok(writerSecret && readerSecret);
    assert.notEqual(readerSecret, writerSecret, 'the verify uses the reader, from a Secret of its own');
    assert.equal(secretOf(verify, 'AWS_SECRET_ACCESS_KEY'), readerSecret);
    for (const name of ['OFFSITE_ENVIRONMENT', 'OFFSITE_BUCKET', 'AWS_REGION'])
      assert.equal(envValue(verify, name)?.value, envValue(backup, name)?.value, `the verify reads the same ${name}`);
    for (const name of ['DATABASE_URL', 'OFFSITE_DEDUP_KEY_FILE'])
      assert.equal(envValue(verify, name), undefined, `the verify does not get ${name}`);
    assert.equal(
      backup?.env?.some((e) => e.valueFrom?.secretKeyRef?.name === readerSecret),
      false,
      'the backup never holds the reader key',
    );
  });

  it('cronjob-db.yaml: keeps the chunk index on the persistent volume of pvc-db-chunk-index.yaml', () => {
    const pod = podSpecOf(manifest('cronjob-db.yaml'));
    assert.ok(pod);
    const backup = pod.initContainers?.find((c) => c.name === 'backup');
    const index = envValue(backup, 'OFFSITE_DB_CHUNK_INDEX')?.value;
    assert.ok(index, 'OFFSITE_DB_CHUNK_INDEX is set');
    const claim = volumeHolding(pod, backup, index)?.persistentVolumeClaim?.claimName;
    assert.equal(claim, manifest('pvc-db-chunk-index.yaml').metadata.name, `${index} is on the claim`);
    assert.equal(pod.securityContext?.fsGroup, 10001, 'user 10001 may write the volume');
  });

  for (const file of ['cronjob-db.yaml', 'deployment-schedule.yaml']) {
    it(`${file}: hands the dedup key from a Secret to offsite as a file only its user can read`, () => {
      const pod = podSpecOf(manifest(file));
      assert.ok(pod);
      const offsite = allContainers(pod).find((c) => envValue(c, 'OFFSITE_DEDUP_KEY_FILE'));
      const keyFile = envValue(offsite, 'OFFSITE_DEDUP_KEY_FILE')?.value ?? '';
      const keys = volumeHolding(pod, offsite, keyFile);
      assert.equal(keys?.emptyDir?.medium, 'Memory', `${keyFile} is on a memory-only volume`);
      // A Secret volume cannot give user 10001 a file of mode 0600 (with fsGroup it is 0440, which offsite refuses):
      // an init container copies it, with umask 077, before offsite starts.
      const copy = pod.initContainers?.[0];
      assert.equal(copy?.name, 'dedup-key');
      const script = copy.command?.at(-1) ?? '';
      assert.deepEqual(copy.command?.slice(0, 2), ['/bin/sh', '-c']);
      const [, from = '', to = ''] = /^umask 077 && cp (\S+) (\S+)$/.exec(script) ?? [];
      assert.equal(to, keyFile, 'the copy is the file offsite reads');
      assert.equal(volumeHolding(pod, copy, to)?.name, keys.name, 'into the same volume');
      const source = volumeHolding(pod, copy, from);
      assert.ok(source?.secret?.secretName, `${from} comes from a Secret`);
      assert.equal(source.secret.defaultMode, 0o440, 'readable by root and group 10001 only');
      assert.ok(!offsite?.volumeMounts?.some((m) => m.name === source.name), 'offsite itself never mounts the Secret');
      if (file === 'deployment-schedule.yaml') {
        // The scheduler keeps one chunk index per environment under its cache folder: no one path for all.
        assert.equal(envValue(offsite, 'OFFSITE_DB_CHUNK_INDEX'), undefined);
        const cache = envValue(offsite, 'XDG_CACHE_HOME')?.value ?? '';
        assert.equal(
          volumeHolding(pod, offsite, `${cache}/offsite/x.index`)?.persistentVolumeClaim?.claimName,
          manifest('pvc-schedule-cache.yaml').metadata.name,
        );
      }
    });
  }

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
      for (const container of allContainers(pod)) {
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
      const pod = podSpecOf(m);
      for (const container of pod ? allContainers(pod) : []) {
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

  // verify checks that the Exec lines' binaries exist: a root with stand-ins for them supplies them.
  async function verify(files: Record<string, string>): Promise<{ code: number; output: string }> {
    const root = join(dir.path, `root-${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    for (const command of ['usr/local/bin/offsite', 'usr/bin/env', 'bin/sh']) {
      mkdirSync(join(root, command, '..'), { recursive: true });
      writeFileSync(join(root, command), '#!/bin/sh\n');
      chmodSync(join(root, command), 0o755);
    }
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

  describe('offsite-backup-db@.service', () => {
    const text = readFileSync(join(DEPLOY, 'systemd', 'offsite-backup-db@.service'), 'utf8');
    const settings = (key: string): string[] =>
      text
        .split('\n')
        .filter((line) => line.startsWith(`${key}=`))
        .map((line) => line.slice(key.length + 1));
    const environment = new Map(
      settings('Environment').map((assignment) => [
        assignment.split('=')[0],
        assignment.slice(assignment.indexOf('=') + 1),
      ]),
    );
    // A stand-in offsite that records its arguments and the environment it was given.
    const seen = join(dir.path, 'systemd-seen.json');
    const standIn = join(dir.path, 'offsite-stand-in');
    writeFileSync(
      join(dir.path, 'stand-in.mjs'),
      'import { writeFileSync } from "node:fs";\nwriteFileSync(process.env.SEEN, JSON.stringify({ argv: process.argv.slice(2), env: process.env }));\n',
    );
    writeFileSync(standIn, `#!/bin/sh\nexec "${process.execPath}" "${join(dir.path, 'stand-in.mjs')}" "$@"\n`);
    chmodSync(standIn, 0o755);
    // What systemd puts in the environment: both env files and the Environment= lines.
    const unitEnv = {
      PATH: '/usr/bin:/bin',
      SEEN: seen,
      OFFSITE_BUCKET: 'acme-offsite-backups',
      AWS_ACCESS_KEY_ID: 'AKIA-writer',
      AWS_SECRET_ACCESS_KEY: 'writer-secret',
      DATABASE_URL: 'postgres://backup:pw@db/app',
      OFFSITE_READER_ACCESS_KEY_ID: 'AKIA-reader',
      OFFSITE_READER_SECRET_ACCESS_KEY: 'reader-secret',
      OFFSITE_ENVIRONMENT: 'production',
      OFFSITE_DEDUP_KEY_FILE: '/run/credentials/offsite-backup-db@production.service/dedup.key',
    };
    /** An Exec line as systemd runs it for instance "production": specifiers and "$$" resolved; no other "$" may be left. */
    const argvOf = (line: string): string[] => {
      assert.doesNotMatch(line.replaceAll('$$', ''), /\$/, 'no variable is expanded by systemd into a command line');
      assert.doesNotMatch(line.replaceAll('%i', ''), /%/, 'no specifier but %i');
      const resolved = line
        .replaceAll('$$', '$')
        .replaceAll('%i', 'production')
        .replaceAll('/usr/local/bin/offsite', standIn);
      const shell = /^\/bin\/sh -c '([^']*)'$/.exec(resolved);
      return shell ? ['/bin/sh', '-c', shell[1] ?? ''] : resolved.split(' ');
    };
    const run = (line: string, env: Record<string, string>) => {
      rmSync(seen, { force: true });
      const [command = '', ...args] = argvOf(line);
      const result = spawnSync(command, args, { env, encoding: 'utf8' });
      const recorded = existsSync(seen)
        ? (JSON.parse(readFileSync(seen, 'utf8')) as { argv: string[]; env: Record<string, string> })
        : undefined;
      return { status: result.status, stderr: result.stderr, recorded };
    };

    it('keeps the chunk index in its CacheDirectory, and reads the dedup key as a credential', () => {
      assert.deepEqual(settings('CacheDirectory'), ['offsite/%i']);
      assert.match(environment.get('OFFSITE_DB_CHUNK_INDEX') ?? '', /^%C\/offsite\/%i\/[^/]+$/);
      assert.deepEqual(settings('LoadCredential'), ['dedup.key:/etc/offsite/%i-dedup.key']);
      assert.equal(environment.get('OFFSITE_DEDUP_KEY_FILE'), '%d/dedup.key');
    });

    it('backs up with the writer only: the reader key is taken out of its environment', () => {
      const [start] = settings('ExecStart');
      assert.ok(start);
      const { status, stderr, recorded } = run(start, unitEnv);
      assert.equal(status, 0, stderr);
      assert.deepEqual(recorded?.argv, ['backup', 'db']);
      assert.equal(recorded.env.AWS_ACCESS_KEY_ID, 'AKIA-writer');
      assert.equal(recorded.env.OFFSITE_DEDUP_KEY_FILE, unitEnv.OFFSITE_DEDUP_KEY_FILE);
      assert.ok(!Object.values(recorded.env).some((v) => v.includes('reader')), 'no reader key');
    });

    it("verifies after the backup with the reader's key only, and fails the unit without it", () => {
      const post = settings('ExecStartPost');
      assert.equal(post.length, 1, 'one ExecStartPost=: systemd runs it only after ExecStart= succeeded');
      const verify = run(post[0] ?? '', unitEnv);
      assert.equal(verify.status, 0, verify.stderr);
      assert.deepEqual(verify.recorded?.argv, ['verify', 'latest']);
      assert.equal(verify.recorded.env.AWS_ACCESS_KEY_ID, 'AKIA-reader');
      assert.equal(verify.recorded.env.AWS_SECRET_ACCESS_KEY, 'reader-secret');
      assert.equal(verify.recorded.env.OFFSITE_ENVIRONMENT, 'production');
      assert.equal(verify.recorded.env.OFFSITE_BUCKET, 'acme-offsite-backups');
      for (const gone of ['DATABASE_URL', 'OFFSITE_DEDUP_KEY_FILE', 'OFFSITE_READER_SECRET_ACCESS_KEY'])
        assert.equal(verify.recorded.env[gone], undefined, gone);
      assert.ok(!Object.values(verify.recorded.env).some((v) => v.includes('writer')), 'no writer key');

      const { OFFSITE_READER_ACCESS_KEY_ID: _, ...withoutReader } = unitEnv;
      const missing = run(post[0] ?? '', withoutReader);
      assert.notEqual(missing.status, 0);
      assert.equal(missing.recorded, undefined, 'offsite never runs with the writer key instead');
      assert.match(
        missing.stderr,
        /OFFSITE_READER_ACCESS_KEY_ID: is not set in \/etc\/offsite\/production-verify\.env/,
      );
      assert.match(text, /^EnvironmentFile=-\/etc\/offsite\/%i-verify\.env$/m);
    });
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
