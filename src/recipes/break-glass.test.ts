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
import { chunkedBreakGlassScript, type ChunkedBreakGlassInput } from './break-glass-chunked.js';

/**
 * The script runs for real in bash, against stub `aws`, `age`, `openssl`, `zstd`, `gzip`, `pg_restore`
 * and `psql` that record their arguments and input: so the tests see the exact argv each tool gets,
 * whatever characters the key, version id or target hold. `aws` "downloads" STUB_OBJECT, or with
 * STUB_OBJECTS the file there named by the SHA-256 of the key; `dd` is recorded, then run for real.
 */
const STUB = `#!/bin/bash
tool=$(basename "$0")
id="$STUB_LOG/$tool.$(date +%s%N).$$"
printf '%s\\0' "$@" > "$id.args"
case "$tool" in
  aws)
    if [ -n "\${STUB_OBJECTS:-}" ]; then
      key= prev=
      for arg in "$@"; do [ "$prev" = --key ] && key=$arg; prev=$arg; done
      cp "$STUB_OBJECTS/$(printf %s "$key" | sha256sum | cut -c 1-64)" "\${@: -1}"
    else
      cp "$STUB_OBJECT" "\${@: -1}"
    fi ;;
  dd) exec /bin/dd "$@" ;;
  age|openssl)
    if [ "\${STUB_FAIL:-}" = decrypt ]; then head -c 5 "\${@: -1}"; exit 1; fi
    cat "\${@: -1}" ;;
  zstd|gzip)
    # STUB_ZSTD_FAILS_AT=N: the Nth call (and later ones) writes all its output, then fails.
    if [ -n "\${STUB_ZSTD_FAILS_AT:-}" ] && [ "$(find "$STUB_LOG" -name 'zstd.*.args' | wc -l)" -ge "$STUB_ZSTD_FAILS_AT" ]; then
      cat; exit 1
    fi
    cat ;;
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
  for (const tool of ['aws', 'age', 'openssl', 'zstd', 'gzip', 'pg_restore', 'psql', 'dd']) {
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
          ...(c.versionId === null ? [] : [`--version-id=${c.versionId}`]),
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

describe('chunkedBreakGlassScript', () => {
  /**
   * A chunked backup as the stubs see it: `age` and `zstd` are `cat`, so a pack's stored bytes are its
   * plaintext and a frame's content is its chunks put together; the layout (packs of frames of chunks,
   * recipe, root) is the real one.
   */
  interface Built {
    input: ChunkedBreakGlassInput;
    /** Stored bytes by key. */
    objects: Map<string, Buffer>;
    dump: Buffer;
    /** The root's and the recipe's refs, in order. */
    refs: Ref[];
  }
  interface Ref {
    pack: string;
    offset: number;
    length: number;
    skip: number;
    plainLength: number;
  }

  const ROOT_KEY = `production/db/2026/11/26/${ODD}.dump.recipe.zst.age`;
  const packKey = (id: string): string =>
    id.endsWith('3')
      ? `production/db-packs/2026/11/26/${ODD}.pack.age`
      : `production/db-packs/2026/11/25/${id}.pack.age`;

  const bytesOf = (length: number, seed: string): Buffer => {
    const parts: Buffer[] = [];
    for (let i = 0; parts.length * 32 < length; i++) parts.push(createHash('sha256').update(`${seed}:${i}`).digest());
    return Buffer.concat(parts).subarray(0, length);
  };
  const split = (bytes: Buffer, sizes: number[]): Buffer[] => {
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const size = sizes[i % sizes.length] ?? 1;
      chunks.push(bytes.subarray(at, at + size));
      at += size;
    }
    return chunks;
  };
  const groups = <T>(items: T[], size: number): T[][] =>
    Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

  /** What the script runs dd for: once per frame it decompresses, once per run of chunks that follow each other in a frame. */
  const ddCalls = (refs: Ref[]): number => {
    let calls = 0;
    let frame = '';
    let run: Ref | undefined;
    let runEnd = 0;
    for (const ref of refs) {
      const same = run && run.pack === ref.pack && run.offset === ref.offset && run.length === ref.length;
      if (same && ref.skip === runEnd) {
        runEnd += ref.plainLength;
        continue;
      }
      run = ref;
      runEnd = ref.skip + ref.plainLength;
      const key = `${ref.pack} ${ref.offset} ${ref.length}`;
      calls += key === frame ? 1 : 2;
      frame = key;
    }
    return calls;
  };

  /**
   * The dump is `first + second + first + a few chunks out of order`: the repeat reuses the first
   * part's chunks, as deduplication would. The first part's frames (three chunks each) lie in pack
   * ...1, the second's (two each) alternate between packs ...2 and ...3, the recipe's lie in pack
   * ...4. Every pack ends with zero padding.
   */
  function build(options: { dumpFormat?: 'custom' | 'plain'; recipe?: (text: string) => string } = {}): Built {
    const packs = new Map<string, Buffer[]>();
    /** Puts the chunks into one frame of `pack`; @returns a ref and the bytes for each. */
    const addFrame = (pack: string, chunks: Buffer[]): [Ref, Buffer][] => {
      const frames = packs.get(pack) ?? [];
      const offset = frames.reduce((total, frame) => total + frame.length, 0);
      const frame = Buffer.concat(chunks);
      packs.set(pack, [...frames, frame]);
      let skip = 0;
      return chunks.map((chunk) => {
        const ref = { pack, offset, length: frame.length, skip, plainLength: chunk.length };
        skip += chunk.length;
        return [ref, chunk];
      });
    };
    const line = (r: Ref): string => `${r.pack} ${r.offset} ${r.length} ${r.skip} ${r.plainLength}\n`;

    const first = groups(split(bytesOf(9000, 'first'), [700, 1300, 2100, 500]), 3).flatMap((chunks) =>
      addFrame('0000000000000001', chunks),
    );
    const second = groups(split(bytesOf(7000, 'second'), [900, 1100]), 2).flatMap((chunks, i) =>
      addFrame(i % 2 === 0 ? '0000000000000002' : '0000000000000003', chunks),
    );
    const pick = (entries: [Ref, Buffer][], ...indexes: number[]): [Ref, Buffer][] =>
      indexes.map((i) => entries[i]).filter((entry): entry is [Ref, Buffer] => entry !== undefined);
    const dumpEntries = [...first, ...second, ...first, ...pick(first, 4, 2, 1)];
    const recipe = Buffer.from(
      (options.recipe ?? ((text: string) => text))(dumpEntries.map(([ref]) => line(ref)).join('')),
    );
    const rootEntries = groups(split(recipe, [150, 90]), 4).flatMap((chunks) => addFrame('0000000000000004', chunks));
    const objects = new Map<string, Buffer>();
    const root = Buffer.from(rootEntries.map(([ref]) => line(ref)).join(''));
    objects.set(ROOT_KEY, root);
    const packRecords = [...packs].map(([id, frames]) => {
      const stored = Buffer.concat([...frames, Buffer.alloc(37)]);
      objects.set(packKey(id), stored);
      return {
        id,
        key: packKey(id),
        versionId: id.endsWith('2') ? null : `v.${id}.${ODD}`,
        size: stored.length,
        sha256: SHA_OF(stored),
      };
    });
    return {
      input: {
        bucket: 'acme-backups',
        region: 'eu-west-2',
        endpoint: 'http://127.0.0.1:7480/',
        target: `postgres://restorer@db.internal:5432/restored?application_name=${encodeURIComponent(ODD)}`,
        manifestKey: `production/db/2026/11/26/${ODD}.manifest.json`,
        dumpFormat: options.dumpFormat ?? 'custom',
        root: { key: ROOT_KEY, versionId: `root.${ODD}`, size: root.length, sha256: SHA_OF(root) },
        packs: packRecords,
        options: { noOwner: true, noPrivileges: true },
      },
      objects,
      dump: Buffer.concat(dumpEntries.map(([, chunk]) => chunk)),
      refs: [...rootEntries, ...dumpEntries].map(([ref]) => ref),
    };
  }

  let objectDirs = 0;
  /** Runs the script with `aws` serving `objects` (by key). */
  function runChunked(script: string, objects: Map<string, Buffer>, env: Record<string, string> = {}): Run {
    const dir = join(root, `objects-${++objectDirs}`);
    mkdirSync(dir);
    for (const [key, bytes] of objects) writeFileSync(join(dir, SHA_OF(Buffer.from(key))), bytes);
    return run(script, Buffer.alloc(0), { STUB_OBJECTS: dir, ...env });
  }

  it('downloads the root and every pack (exact versions), checks and decrypts them, and restores the dump cut out in recipe order', () => {
    const built = build();
    const r = runChunked(chunkedBreakGlassScript(built.input), built.objects);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(canary), false, 'a value was executed');

    const aws = callsOf(r, 'aws');
    const expected = [built.input.root, ...built.input.packs].map((object) => [
      's3api',
      'get-object',
      '--bucket',
      'acme-backups',
      '--key',
      object.key,
      ...(object.versionId === null ? [] : [`--version-id=${object.versionId}`]),
      '--region',
      'eu-west-2',
      '--endpoint-url',
      'http://127.0.0.1:7480/',
    ]);
    assert.deepEqual(
      aws.map((call) => call.args.slice(0, -1)),
      expected,
    );
    const files = aws.map((call) => call.args.at(-1) ?? '');
    assert.ok(
      files.every((file) => !existsSync(file)),
      'the temporary directory was removed',
    );
    assert.deepEqual(
      callsOf(r, 'age').map((call) => call.args),
      [...files.slice(1), files[0]].map((file) => ['-d', '-i', identity, file]),
    );

    const [restore, ...more] = callsOf(r, 'pg_restore');
    assert.equal(more.length, 0);
    assert.deepEqual(restore?.args, [
      '--single-transaction',
      '--exit-on-error',
      '--no-owner',
      '--no-privileges',
      `--dbname=${built.input.target}`,
    ]);
    assert.ok(Buffer.from(restore.stdin ?? '', 'latin1').equals(built.dump), 'pg_restore gets the whole dump');
    assert.equal(
      callsOf(r, 'dd').length,
      ddCalls(built.refs),
      'a frame is decompressed once for the lines in a row that use it, chunks that follow each other are cut together',
    );
    assert.match(r.stderr, /break-glass: 5\/5 restored/);
    assert.match(r.stderr, new RegExp(`the dump is ${built.dump.length} bytes in \\d+ chunks`));
  });

  it('restores a plain SQL dump between BEGIN and COMMIT, and a --data-only one through psql', () => {
    const plain = build({ dumpFormat: 'plain' });
    const r = runChunked(chunkedBreakGlassScript(plain.input), plain.objects);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(callsOf(r, 'pg_restore').length, 0);
    assert.equal(callsOf(r, 'psql')[0]?.stdin, `BEGIN;\n${plain.dump.toString('latin1')}\nCOMMIT;\n`);

    const custom = build();
    const dataOnly = runChunked(
      chunkedBreakGlassScript({ ...custom.input, options: { dataOnly: true, noOwner: false, noPrivileges: false } }),
      custom.objects,
    );
    assert.equal(dataOnly.code, 0, dataOnly.stderr);
    const [restore] = callsOf(dataOnly, 'pg_restore');
    assert.deepEqual(restore?.args, ['--data-only', '-f', '-']);
    assert.ok(Buffer.from(restore.stdin ?? '', 'latin1').equals(custom.dump));
    assert.match(callsOf(dataOnly, 'psql')[0]?.stdin ?? '', /^BEGIN;\n[^]*\nCOMMIT;\n$/);
  });

  it('stops at a pack whose bytes do not match the manifest, naming it, before decrypting anything or touching the target', () => {
    const built = build();
    const damaged = built.input.packs[1];
    assert.ok(damaged);
    const stored = Buffer.from(built.objects.get(damaged.key) ?? '');
    stored[10] = (stored[10] ?? 0) ^ 1;
    built.objects.set(damaged.key, stored);
    const r = runChunked(chunkedBreakGlassScript(built.input), built.objects);
    assert.equal(r.code, 1);
    assert.ok(
      r.stderr.includes(
        `the SHA-256 of pack ${damaged.id} (s3://acme-backups/${damaged.key}) is ${SHA_OF(stored)} but the manifest recorded ${damaged.sha256}: the backup is damaged or was replaced. Nothing was restored`,
      ),
      r.stderr,
    );
    assert.deepEqual(
      r.calls.map((c) => c.tool),
      ['aws', 'aws', 'aws'],
      'the root, the first pack, the damaged one: nothing after it',
    );
  });

  it('checks every recipe line before the restore starts: a damaged recipe never reaches the target', () => {
    const cases: [string, (text: string) => string, RegExp][] = [
      [
        'a pack the manifest does not list',
        (text) => text.replace(/^0000000000000002/m, '00000000000000ff'),
        /line \d+ of the recipe names pack 00000000000000ff, which the manifest does not list/,
      ],
      [
        'past the end of a pack',
        (text) => text.replace(/^(0000000000000001) 0 /m, '$1 99999 '),
        /line 1 of the recipe reaches past the end of pack 0000000000000001/,
      ],
      ['not a recipe line', (text) => `${text}$(touch "$CANARY")\n`, /line \d+ of the recipe is not "<pack id>/],
      ['six fields', (text) => `${text}0000000000000001 0 1 0 1 1\n`, /line \d+ of the recipe is not "<pack id>/],
      ['truncated', (text) => text.slice(0, -1), /the recipe does not end with a newline \(truncated\)/],
    ];
    for (const [label, damage, message] of cases) {
      const built = build({ recipe: damage });
      const r = runChunked(chunkedBreakGlassScript(built.input), built.objects);
      assert.equal(r.code, 1, label);
      assert.match(r.stderr, message, label);
      assert.match(r.stderr, /the backup is damaged\. Nothing was restored\./, label);
      assert.equal(callsOf(r, 'pg_restore').length + callsOf(r, 'psql').length, 0, label);
      assert.equal(existsSync(canary), false, label);
    }

    // A root line that reaches past the end of its frame: found while the recipe is rebuilt.
    const built = build();
    const root = built.objects.get(ROOT_KEY)?.toString() ?? '';
    const wrong = Buffer.from(root.replace(/ (\d+)\n$/, (_, n: string) => ` ${Number(n) + 1}\n`));
    built.objects.set(ROOT_KEY, wrong);
    const r = runChunked(
      chunkedBreakGlassScript({ ...built.input, root: { ...built.input.root, sha256: SHA_OF(wrong) } }),
      built.objects,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a chunk reaches past the end of its frame \(pack 0000000000000004/);
    assert.equal(callsOf(r, 'pg_restore').length + callsOf(r, 'psql').length, 0);
  });

  it('fails, without the row-count step, when a chunk reaches past the end of its frame', () => {
    // Only decompressing the frame shows it: the restore has started, and its transaction is not committed.
    const built = build({ recipe: (text) => text.replace(/^(0000000000000001 0 \d+ 0) (\d+)$/m, '$1 99999') });
    const r = runChunked(chunkedBreakGlassScript(built.input), built.objects);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /a chunk reaches past the end of its frame \(pack 0000000000000001, frame at 0\)/);
    assert.equal(callsOf(r, 'psql').length, 0);
  });

  it('never sends COMMIT when decompressing a frame fails halfway through the dump (plain SQL, --data-only)', () => {
    for (const [dumpFormat, options] of [
      ['plain', {}],
      ['custom', { dataOnly: true }],
    ] as const) {
      const built = build({ dumpFormat });
      const script = chunkedBreakGlassScript({ ...built.input, options: { ...built.input.options, ...options } });
      const calls = callsOf(runChunked(script, built.objects), 'zstd').length;
      // The last frame decompressed is one of the dump's: the restore has started.
      const r = runChunked(script, built.objects, { STUB_ZSTD_FAILS_AT: String(calls) });
      assert.notEqual(r.code, 0, dumpFormat);
      const [load, ...more] = callsOf(r, 'psql');
      assert.equal(more.length, 0, `${dumpFormat}: no row-count step after a failure`);
      assert.match(load?.stdin ?? '', /^BEGIN;\n/, dumpFormat);
      assert.doesNotMatch(load?.stdin ?? '', /^COMMIT;|ADD CONSTRAINT/m, dumpFormat);
    }
  });

  it('stops before downloading when the identity file is not set', () => {
    const built = build();
    const r = runChunked(chunkedBreakGlassScript(built.input), built.objects, { AGE_IDENTITY_FILE: '' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /set AGE_IDENTITY_FILE to the path of the age identity file/);
    assert.deepEqual(r.calls, []);
  });

  it('refuses input that cannot make a safe script', () => {
    const { input: good } = build();
    const [pack] = good.packs;
    assert.ok(pack);
    const withPacks = (packs: ChunkedBreakGlassInput['packs']) => () => chunkedBreakGlassScript({ ...good, packs });
    assert.throws(withPacks([{ ...pack, id: '../etc/passwd' }]), /not a pack id/);
    assert.throws(withPacks([pack, pack]), /listed twice/);
    assert.throws(withPacks([{ ...pack, sha256: 'abc' }]), /not a SHA-256/);
    assert.throws(withPacks([{ ...pack, versionId: '' }]), /version id of pack .* is empty/);
    assert.throws(withPacks([{ ...pack, key: ' ' }]), /key of pack .* is empty/);
    assert.throws(withPacks([{ ...pack, key: 'a\0b' }]), /NUL/);
    assert.throws(() => chunkedBreakGlassScript({ ...good, target: 'postgres://app:pw@db/x' }), /contains a password/);
    assert.throws(
      () => chunkedBreakGlassScript({ ...good, options: { ...good.options, schemaOnly: true, dataOnly: true } }),
      /exclude each other/,
    );
  });

  it('holds no secret, and passes shellcheck', (t) => {
    const built = build();
    const scripts = (['custom', 'plain'] as const).flatMap((dumpFormat) =>
      [{}, { dataOnly: true, tables: ['public.users'] }, { schemaOnly: true }].map((options) =>
        chunkedBreakGlassScript({ ...built.input, dumpFormat, options: { ...built.input.options, ...options } }),
      ),
    );
    for (const script of scripts) {
      assert.doesNotMatch(
        script,
        /^\s*(export\s+)?(PGPASSWORD|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN)=/m,
        'no secret assigned',
      );
      assert.doesNotMatch(script, /\$\{?(PGPASSWORD|AWS_SECRET_ACCESS_KEY)\b(?!:-\})/, 'no secret is expanded');
    }
    if (spawnSync('shellcheck', ['--version']).status !== 0) {
      t.skip('shellcheck is not installed');
      return;
    }
    for (const script of scripts) {
      const check = spawnSync('shellcheck', ['-S', 'warning', '-s', 'bash', '-'], { input: script, encoding: 'utf8' });
      assert.equal(check.status, 0, check.stdout);
    }
  });
});
