import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { BreakGlassError, breakGlassScript, shellQuote, type BreakGlassInput } from './break-glass.js';

/**
 * The script runs for real in bash, against stub `aws`, `age`, `openssl`, `zstd`, `gzip`, `pg_restore`
 * and `psql` that record their arguments and input: so the tests see the exact argv each tool gets,
 * whatever characters the key, version id or target hold.
 */
const STUB = `#!/bin/bash
tool=$(basename "$0")
id="$STUB_LOG/$tool.$(date +%s%N).$$"
printf '%s\\0' "$@" > "$id.args"
case "$tool" in
  aws) cp "$STUB_OBJECT" "\${@: -1}" ;;
  age|openssl)
    if [ "\${STUB_FAIL:-}" = decrypt ]; then head -c 5 "\${@: -1}"; exit 1; fi
    cat "\${@: -1}" ;;
  zstd|gzip) cat ;;
  pg_restore)
    if [ -n "\${STUB_READ_BYTES:-}" ]; then head -c "$STUB_READ_BYTES" > "$id.stdin"; else cat > "$id.stdin"; fi ;;
  psql) cat > "$id.stdin" ;;
esac
`;

const ODD = `it's "odd" $HOME \`touch "$CANARY"\` $(touch "$CANARY") \\ ; & | *\n touch "$CANARY" # ö 🚀`;
const SHA_OF = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface Call {
  tool: string;
  args: string[];
  stdin?: string;
}

interface Run {
  code: number | null;
  stderr: string;
  calls: Call[];
}

let root: string;
let stubs: string;
let identity: string;
let canary: string;
let runCount = 0;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'break-glass-test-'));
  stubs = join(root, 'bin');
  mkdirSync(stubs);
  for (const tool of ['aws', 'age', 'openssl', 'zstd', 'gzip', 'pg_restore', 'psql']) {
    writeFileSync(join(stubs, tool), STUB);
    chmodSync(join(stubs, tool), 0o755);
  }
  identity = join(root, "identity it's.txt");
  writeFileSync(identity, 'AGE-SECRET-KEY-NOT-A-REAL-ONE\n');
  canary = join(root, 'canary');
});

after(() => rmSync(root, { recursive: true, force: true }));

/** Runs a script with the stubs; `object` is what `aws` "downloads". */
function run(script: string, object: Buffer, env: Record<string, string> = {}): Run {
  const dir = join(root, `run-${++runCount}`);
  const log = join(dir, 'log');
  mkdirSync(log, { recursive: true });
  const objectFile = join(dir, 'object');
  writeFileSync(objectFile, object);
  const scriptFile = join(dir, 'restore.sh');
  writeFileSync(scriptFile, script);
  const result = spawnSync('bash', [scriptFile], {
    env: {
      PATH: `${stubs}:/usr/bin:/bin`,
      HOME: '/nonexistent',
      TMPDIR: dir,
      STUB_LOG: log,
      STUB_OBJECT: objectFile,
      CANARY: canary,
      AGE_IDENTITY_FILE: identity,
      OFFSITE_ENCRYPTION_PASSWORD: 'not-used-by-the-stubs',
      ...env,
    },
    encoding: 'utf8',
  });
  const calls = readdirSync(log)
    .filter((name) => name.endsWith('.args'))
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
    .map((name) => {
      const base = name.slice(0, -'.args'.length);
      const args = readFileSync(join(log, name), 'utf8').split('\0').slice(0, -1);
      const stdinFile = join(log, `${base}.stdin`);
      return {
        tool: name.split('.')[0] ?? '',
        args,
        ...(existsSync(stdinFile) ? { stdin: readFileSync(stdinFile, 'latin1') } : {}),
      };
    });
  return { code: result.status, stderr: result.stderr, calls };
}

const callsOf = (r: Run, tool: string): Call[] => r.calls.filter((c) => c.tool === tool);

type InputOverrides = Omit<Partial<BreakGlassInput>, 'payload' | 'options'> & {
  payload?: Partial<BreakGlassInput['payload']>;
  options?: Partial<BreakGlassInput['options']>;
};

function input(overrides: InputOverrides = {}): BreakGlassInput {
  const { payload, options, ...rest } = overrides;
  return {
    bucket: 'acme-backups',
    region: 'eu-west-2',
    target: 'postgres://restorer@db.internal:5432/restored',
    ...rest,
    payload: {
      key: 'production/db/2026/11/26/20261126T100000Z-k3x9q2mf.dump.zst.age',
      versionId: '3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrH',
      dumpFormat: 'custom',
      compression: 'zstd',
      encryption: 'age',
      ...payload,
    },
    options: { noOwner: true, noPrivileges: true, ...options },
  };
}

describe('shellQuote', () => {
  const echo = (quoted: string): string => execFileSync('bash', ['-c', `printf %s ${quoted}`], { encoding: 'utf8' });

  it('gives bash back any string exactly (property, run through bash)', () => {
    const shellish = fc.string({
      unit: fc.constantFrom(
        "'",
        '"',
        '$',
        '`',
        '\\',
        '\n',
        '\t',
        ' ',
        '!',
        '*',
        '?',
        '~',
        ';',
        '&',
        '|',
        '<',
        '>',
        '(',
        ')',
        '{',
        '}',
        '#',
        '=',
        '%',
        '-',
        'a',
        'ö',
        '🚀',
      ),
    });
    const anyText = fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.oneof(shellish, anyText), (text) => {
        assert.equal(echo(shellQuote(text)), text);
      }),
      { numRuns: 150 },
    );
  });

  it('handles the edge cases', () => {
    for (const text of ['', "'", "''", '-n', '--version', '$(id)', 'a b', '\n'])
      assert.equal(echo(shellQuote(text)), text);
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });

  it('refuses a NUL character, which no shell word can hold', () => {
    assert.throws(() => shellQuote('a\0b'), BreakGlassError);
  });
});

describe('breakGlassScript', () => {
  const formats = ['custom', 'plain'] as const;
  const compressions = ['zstd', 'gzip', 'none'] as const;
  const encryptions = ['age', 'openssl'] as const;
  const content = Buffer.from('-- a dump\nCOPY t FROM stdin;\n1\tx\n\\.\n');
  const combos = formats.flatMap((dumpFormat) =>
    compressions.flatMap((compression) =>
      encryptions.flatMap((encryption) =>
        [undefined, 'http://127.0.0.1:7480/'].flatMap((endpoint) =>
          [null, `v1.${ODD}`].map((versionId) => ({ dumpFormat, compression, encryption, endpoint, versionId })),
        ),
      ),
    ),
  );

  it(`runs the expected commands with exactly the expected arguments (${combos.length} combinations)`, () => {
    for (const c of combos) {
      const label = JSON.stringify(c);
      const key = `production/db/2026/11/26/${ODD}.${c.dumpFormat}`;
      const target = `postgres://restorer@db.internal:5432/restored?application_name=${encodeURIComponent(ODD)}`;
      const script = breakGlassScript({
        ...input({
          target,
          ...(c.endpoint ? { endpoint: c.endpoint } : {}),
          manifestKey: `${key}.manifest.json`,
          sha256: SHA_OF(content),
        }),
        payload: {
          key,
          versionId: c.versionId,
          dumpFormat: c.dumpFormat,
          compression: c.compression,
          encryption: c.encryption,
        },
      });
      const r = run(script, content);
      assert.equal(r.code, 0, `${label}: ${r.stderr}`);
      assert.equal(existsSync(canary), false, `${label}: a value was executed`);

      const [aws, ...moreAws] = callsOf(r, 'aws');
      assert.ok(aws && moreAws.length === 0, label);
      const payloadFile = aws.args.at(-1) ?? '';
      assert.deepEqual(
        aws.args,
        [
          's3api',
          'get-object',
          '--bucket',
          'acme-backups',
          '--key',
          key,
          ...(c.versionId === null ? [] : ['--version-id', c.versionId]),
          '--region',
          'eu-west-2',
          ...(c.endpoint ? ['--endpoint-url', c.endpoint] : []),
          payloadFile,
        ],
        label,
      );
      assert.equal(existsSync(payloadFile), false, `${label}: the temporary directory was removed`);

      const decrypt = callsOf(r, c.encryption);
      assert.deepEqual(
        decrypt.map((d) => d.args),
        [
          c.encryption === 'age'
            ? ['-d', '-i', identity, payloadFile]
            : ['enc', '-d', '-aes-256-cbc', '-pbkdf2', '-pass', 'env:OFFSITE_ENCRYPTION_PASSWORD', '-in', payloadFile],
        ],
        label,
      );
      assert.equal(callsOf(r, c.encryption === 'age' ? 'openssl' : 'age').length, 0, label);

      assert.deepEqual(
        callsOf(r, 'zstd').map((d) => d.args),
        c.compression === 'zstd' ? [['-d', '-c', '-q']] : [],
        label,
      );
      assert.deepEqual(
        callsOf(r, 'gzip').map((d) => d.args),
        c.compression === 'gzip' ? [['-d', '-c']] : [],
        label,
      );

      const psql = callsOf(r, 'psql');
      const summaryArgs = ['-X', '-q', '-At', '-F', ' ', '-v', 'ON_ERROR_STOP=1', '-d', target];
      if (c.dumpFormat === 'custom') {
        const restores = callsOf(r, 'pg_restore');
        assert.deepEqual(
          restores.map((d) => d.args),
          [['--single-transaction', '--exit-on-error', '--no-owner', '--no-privileges', `--dbname=${target}`]],
          label,
        );
        assert.equal(restores[0]?.stdin, content.toString('latin1'), label);
        assert.deepEqual(
          psql.map((d) => d.args),
          [summaryArgs],
          label,
        );
      } else {
        assert.equal(callsOf(r, 'pg_restore').length, 0, label);
        assert.deepEqual(
          psql.map((d) => d.args),
          [['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target], summaryArgs],
          label,
        );
        assert.equal(psql[0]?.stdin, `BEGIN;\n${content.toString('latin1')}\nCOMMIT;\n`, label);
      }
      assert.match(psql.at(-1)?.stdin ?? '', /\\gexec/, label);

      assert.match(script, /^#!\/usr\/bin\/env bash\n/);
      assert.match(script, /^set -euo pipefail/m);
      assert.match(script, /^WORKDIR="\$\(mktemp -d /m);
      assert.match(script, /^trap 'rm -rf -- "\$WORKDIR"' EXIT$/m);
    }
  });

  it('passes schema-only, data-only, tables, owner and privilege choices to pg_restore', () => {
    const restoreArgs = (options: Partial<BreakGlassInput['options']>): string[] => {
      const content = Buffer.from('archive');
      const r = run(breakGlassScript(input({ options, sha256: SHA_OF(content) })), content);
      assert.equal(r.code, 0, r.stderr);
      return callsOf(r, 'pg_restore')[0]?.args ?? [];
    };
    const target = '--dbname=postgres://restorer@db.internal:5432/restored';
    assert.deepEqual(restoreArgs({ schemaOnly: true, tables: ['public.users', 'public.posts'] }), [
      '--single-transaction',
      '--exit-on-error',
      '--no-owner',
      '--no-privileges',
      '--schema-only',
      '-n',
      'public',
      '-t',
      'users',
      '-t',
      'posts',
      target,
    ]);
    assert.deepEqual(restoreArgs({ tables: ['users', 'audit.log', `we'ird ${ODD}`] }), [
      '--single-transaction',
      '--exit-on-error',
      '--no-owner',
      '--no-privileges',
      '-t',
      'users',
      '-t',
      'log',
      '-t',
      `we'ird ${ODD}`,
      target,
    ]);
    assert.equal(existsSync(canary), false);
  });

  it("with --data-only, pipes pg_restore's SQL into psql between BEGIN and COMMIT, dropping and re-adding foreign keys", () => {
    const content = Buffer.from('archive bytes');
    const script = breakGlassScript(
      input({
        options: { dataOnly: true, noOwner: false, noPrivileges: false, tables: ['public.users'] },
        sha256: SHA_OF(content),
      }),
    );
    const r = run(script, content);
    assert.equal(r.code, 0, r.stderr);
    const [restore] = callsOf(r, 'pg_restore');
    assert.deepEqual(restore?.args, ['--data-only', '-n', 'public', '-t', 'users', '-f', '-']);
    assert.equal(restore.stdin, content.toString());
    const [load, counts] = callsOf(r, 'psql');
    assert.deepEqual(load?.args, [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-d',
      'postgres://restorer@db.internal:5432/restored',
    ]);
    assert.ok(counts);
    // The stub pg_restore prints nothing: the SQL around its output is what psql gets.
    assert.match(
      load.stdin ?? '',
      /^BEGIN;\n[^]*DROP CONSTRAINT[^]*END \$\$;\nDO \$\$[^]*ADD CONSTRAINT[^]*\nCOMMIT;\n$/,
    );

    const failed = run(script, content, { STUB_FAIL: 'decrypt' });
    assert.notEqual(failed.code, 0);
    assert.doesNotMatch(callsOf(failed, 'psql')[0]?.stdin ?? '', /^COMMIT;|ADD CONSTRAINT/m);
  });

  it('says in a comment that schema, data and table options do not apply to plain SQL, and ignores them', () => {
    const script = breakGlassScript(
      input({ payload: { dumpFormat: 'plain' }, options: { schemaOnly: true, tables: ['users'] } }),
    );
    assert.match(script, /^# .*plain SQL, which restores only whole/m);
    assert.match(script, /^# .*You asked for schema-only and a table selection: not possible with this backup/m);
    const code = script
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    assert.doesNotMatch(code, /pg_restore|--schema-only|-t '/);
  });

  it('drains the archive when pg_restore stops reading early (--schema-only), so the pipeline does not fail on a broken pipe', () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const r = run(breakGlassScript(input({ options: { schemaOnly: true }, sha256: SHA_OF(big) })), big, {
      STUB_READ_BYTES: '3',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(callsOf(r, 'pg_restore')[0]?.stdin?.length, 3);
  });

  it('stops before decrypting, and never touches the target, when the downloaded bytes do not match the manifest hash', () => {
    const r = run(
      breakGlassScript(input({ sha256: SHA_OF(Buffer.from('what the manifest recorded')) })),
      Buffer.from('what is in the bucket now'),
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /SHA-256 is [0-9a-f]{64} but the manifest recorded [0-9a-f]{64}: the backup is damaged or was replaced\. Nothing was restored/,
    );
    assert.deepEqual(
      r.calls.map((c) => c.tool),
      ['aws'],
    );
  });

  it('never sends COMMIT to psql when decryption fails halfway (plain SQL)', () => {
    const content = Buffer.from('CREATE TABLE t (x int);\nINSERT INTO t VALUES (1);\n');
    const script = breakGlassScript(
      input({ payload: { dumpFormat: 'plain', compression: 'none', encryption: 'openssl' }, sha256: SHA_OF(content) }),
    );
    const r = run(script, content, { STUB_FAIL: 'decrypt' });
    assert.notEqual(r.code, 0);
    const psql = callsOf(r, 'psql');
    assert.equal(psql.length, 1, 'no row-count step after a failure');
    assert.equal(psql[0]?.stdin, 'BEGIN;\nCREAT');
  });

  it('fails, without the row-count step, when decryption fails for a custom archive', () => {
    const content = Buffer.from('archive');
    const r = run(breakGlassScript(input({ sha256: SHA_OF(content) })), content, { STUB_FAIL: 'decrypt' });
    assert.notEqual(r.code, 0);
    assert.equal(callsOf(r, 'psql').length, 0);
  });

  it('stops before downloading when a secret is missing from the environment', () => {
    const age = run(breakGlassScript(input()), Buffer.from('x'), { AGE_IDENTITY_FILE: '' });
    assert.equal(age.code, 1);
    assert.match(age.stderr, /set AGE_IDENTITY_FILE to the path of the age identity file/);
    const openssl = run(breakGlassScript(input({ payload: { encryption: 'openssl' } })), Buffer.from('x'), {
      OFFSITE_ENCRYPTION_PASSWORD: '',
    });
    assert.equal(openssl.code, 1);
    assert.match(openssl.stderr, /read -rs OFFSITE_ENCRYPTION_PASSWORD && export OFFSITE_ENCRYPTION_PASSWORD/);
    assert.deepEqual([...age.calls, ...openssl.calls], []);
  });

  it("also takes the identity file from Offsite's own variable, OFFSITE_AGE_IDENTITY_FILE", () => {
    const content = Buffer.from('archive');
    const r = run(breakGlassScript(input({ sha256: SHA_OF(content) })), content, {
      AGE_IDENTITY_FILE: '',
      OFFSITE_AGE_IDENTITY_FILE: identity,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(callsOf(r, 'age')[0]?.args.slice(0, 3), ['-d', '-i', identity]);
  });

  it('restores a backup without manifest or version (old pipeline), printing the hash instead of checking it', () => {
    const content = Buffer.from('SELECT 1;\n');
    const script = breakGlassScript(
      input({
        payload: {
          key: 'production/database/2022-06-01--13-00-02.sql.encrypted',
          versionId: null,
          dumpFormat: 'plain',
          compression: 'none',
          encryption: 'openssl',
        },
      }),
    );
    assert.doesNotMatch(script, /EXPECTED_SHA256|MANIFEST_KEY|VERSION_ID/);
    assert.match(script, /^# {4}Backups of the old shell pipeline were dumped WITH owners and grants/m);
    const r = run(script, content);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(SHA_OF(content)));
    assert.equal(callsOf(r, 'psql')[0]?.stdin, `BEGIN;\n${content.toString()}\nCOMMIT;\n`);
  });

  it('holds no secret and no secret placeholder: secrets are named as environment variables only', () => {
    for (const encryption of ['age', 'openssl'] as const) {
      for (const dumpFormat of ['custom', 'plain'] as const) {
        const script = breakGlassScript(
          input({
            endpoint: 'https://s3.example.com',
            manifestKey: 'm.json',
            sha256: 'a'.repeat(64),
            payload: { encryption, dumpFormat },
          }),
        );
        assert.doesNotMatch(
          script,
          /pass:|-k |--password|-p(ass)?\s+['"]?[^e-]/,
          'no password option with a literal value',
        );
        assert.doesNotMatch(
          script,
          /^\s*(export\s+)?(PGPASSWORD|OFFSITE_ENCRYPTION_PASSWORD|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN)=/m,
          'no secret assigned',
        );
        assert.doesNotMatch(script, /export \w*(PASSWORD|SECRET|ACCESS_KEY)\w*=/, 'not even in a comment');
        assert.doesNotMatch(
          script,
          /\$\{?(PGPASSWORD|OFFSITE_ENCRYPTION_PASSWORD|AWS_SECRET_ACCESS_KEY)\b(?!:-\})/,
          'no secret is expanded',
        );
        assert.doesNotMatch(
          script,
          /<[a-z _-]*(password|secret|key)[a-z _-]*>|YOUR_|CHANGEME|\bPASSWORD_HERE\b/i,
          'no placeholder to fill in',
        );
        assert.doesNotMatch(script, /postgres(ql)?:\/\/[^@\s'"]*:[^@\s'"]*@/, 'no password in a URL');
      }
    }
    for (const target of [
      'postgres://app:hunter2@db/x',
      'postgresql://app:s%40cret@db/x?sslmode=require',
      'postgres://app@db/x?password=hunter2',
      'host=db user=app password=hunter2 dbname=x',
    ]) {
      assert.throws(() => breakGlassScript(input({ target })), /contains a password/, target);
    }
  });

  it('refuses input that cannot make a safe script', () => {
    assert.throws(
      () => breakGlassScript(input({ options: { schemaOnly: true, dataOnly: true } })),
      /exclude each other/,
    );
    assert.throws(() => breakGlassScript(input({ sha256: 'abc' })), /not a SHA-256/);
    assert.throws(() => breakGlassScript(input({ bucket: '' })), /bucket is empty/);
    assert.throws(() => breakGlassScript(input({ payload: { key: 'a\0b' } })), /NUL/);
    assert.throws(() => breakGlassScript(input({ endpoint: 'not a url' })), /not an http\(s\) URL/);
    assert.throws(() => breakGlassScript(input({ options: { tables: ['public.'] } })), /not a table name/);
  });

  it('passes shellcheck for every combination', (t) => {
    if (spawnSync('shellcheck', ['--version']).status !== 0) {
      t.skip('shellcheck is not installed');
      return;
    }
    for (const c of combos) {
      const script = breakGlassScript({
        ...input({
          ...(c.endpoint ? { endpoint: c.endpoint } : {}),
          ...(c.versionId ? { manifestKey: 'm.json', sha256: 'a'.repeat(64) } : {}),
          options: { tables: ['public.users'] },
        }),
        payload: {
          key: `k/${ODD}`,
          versionId: c.versionId,
          dumpFormat: c.dumpFormat,
          compression: c.compression,
          encryption: c.encryption,
        },
      });
      const check = spawnSync('shellcheck', ['-S', 'warning', '-s', 'bash', '-'], { input: script, encoding: 'utf8' });
      assert.equal(check.status, 0, `${JSON.stringify(c)}\n${check.stdout}`);
    }
  });
});
