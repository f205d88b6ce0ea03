/**
 * Break-glass: the bash script that restores one database backup with standard tools only (aws,
 * sha256sum, age or openssl, zstd or gzip, pg_restore or psql), for the day Offsite itself cannot
 * run. Pure; `offsite restore db --print-commands` prints it. Mirrors docs/format.md and docs/restore.md.
 *
 * Every value from the bucket or the user goes into the script single-quoted (shellQuote), once, in a
 * settings block at the top; the commands only use those variables. Secrets never appear in the
 * script: only the names of the environment variables that carry them.
 *
 * This file makes the single-object layout's script; break-glass-chunked.ts makes the chunked
 * layout's with the pieces exported here (checks, settings, step 0, the restore step, the row counts).
 */
import type { Compression, DumpFormat, Encryption } from '../format/layout.js';
import { carriesPassword } from '../processes/connection.js';

/** What every break-glass script needs: where the bucket is, where to restore, and how. */
export interface BreakGlassTarget {
  bucket: string;
  /** S3 endpoint URL for non-AWS servers (adds --endpoint-url). */
  endpoint?: string;
  region: string;
  /** Target database URL WITHOUT password (PGPASSWORD comes from the environment). */
  target: string;
  options: { schemaOnly?: boolean; dataOnly?: boolean; tables?: string[]; noOwner: boolean; noPrivileges: boolean };
}

/** A single-object backup (manifest version 1, or the old pipeline's object). */
export interface BreakGlassInput extends BreakGlassTarget {
  payload: {
    key: string;
    versionId: string | null;
    dumpFormat: DumpFormat;
    compression: Compression;
    encryption: Encryption;
  };
  /** Absent for old-pipeline backups (no manifest). */
  manifestKey?: string;
  /** The stored bytes' SHA-256 from the manifest, checked before decrypting. */
  sha256?: string;
}

/** The input cannot make a safe script (a password in the target, contradicting options, ...). */
export class BreakGlassError extends Error {
  override name = 'BreakGlassError';
}

/**
 * One bash word that stands for exactly `value`: single quotes, with each `'` written as `'\''`.
 * Inside single quotes bash takes every character literally (spaces, `"`, `$`, backquotes, `\`, newlines).
 * @throws BreakGlassError for a NUL character, which no shell word can hold.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new BreakGlassError('a shell word cannot contain a NUL character');
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The complete restore script for one backup, with comments for someone who has never used Offsite.
 * @throws BreakGlassError when the input cannot make a safe, working script.
 */
export function breakGlassScript(input: BreakGlassInput): string {
  const checked = validate(input);
  const sections = [
    header(checked),
    settings(checked),
    preflight(checked),
    workspace(),
    download(checked),
    integrity(checked),
    restore(checked),
    summary(),
  ];
  return `${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}

/** A table of the selection, split into schema and name. */
export interface TableName {
  schema?: string;
  name: string;
}

interface Checked extends BreakGlassInput {
  tables: TableName[];
}

export const RULE =
  '# ------------------------------------------------------------------------------------------------';

function validate(input: BreakGlassInput): Checked {
  const tables = validateTarget(input, {
    named: [['payload key', input.payload.key]],
    values: [input.payload.key, input.payload.versionId ?? '', input.manifestKey ?? ''],
  });
  checkVersionId(input.payload.versionId, 'the version id');
  const sha256 = input.sha256 === undefined ? undefined : checkedSha256(input.sha256);
  return { ...input, ...(sha256 === undefined ? {} : { sha256 }), tables };
}

/**
 * The checks every script's input needs: nothing empty, an http(s) endpoint, no password in the
 * target, options that fit together, table names, no NUL anywhere (`named` and `values` are the
 * caller's own settings, checked the same way).
 * @returns the table selection, parsed.
 * @throws BreakGlassError naming what is wrong.
 */
export function validateTarget(
  input: BreakGlassTarget,
  extra: { named: (readonly [string, string])[]; values: string[] },
): TableName[] {
  for (const [name, value] of [
    ['bucket', input.bucket],
    ['region', input.region],
    ...extra.named,
    ['target', input.target],
  ] as const) {
    if (value.trim() === '') throw new BreakGlassError(`the ${name} is empty`);
  }
  if (input.endpoint !== undefined && !/^https?:\/\/\S+$/.test(input.endpoint))
    throw new BreakGlassError(`the S3 endpoint "${input.endpoint}" is not an http(s) URL`);
  if (carriesPassword(input.target))
    throw new BreakGlassError(
      'the target database URL contains a password: remove it, the script reads PGPASSWORD (or ~/.pgpass) from the environment',
    );
  if (input.options.schemaOnly && input.options.dataOnly)
    throw new BreakGlassError('schema-only and data-only exclude each other');
  const tables = (input.options.tables ?? []).map((table) => {
    const dot = table.indexOf('.');
    const parsed = dot < 0 ? { name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
    if (parsed.name === '' || parsed.schema === '')
      throw new BreakGlassError(`"${table}" is not a table name (use table or schema.table)`);
    return parsed;
  });
  // Quoting rejects NUL; check every value now so the error names the input, not a line of the script.
  for (const value of [
    input.bucket,
    input.region,
    input.endpoint ?? '',
    input.target,
    ...(input.options.tables ?? []),
    ...extra.values,
  ]) {
    if (value.includes('\0')) throw new BreakGlassError('a setting contains a NUL character');
  }
  return tables;
}

/** @throws BreakGlassError for an empty version id (null says there is none). */
export function checkVersionId(versionId: string | null, what: string): void {
  if (versionId === '') throw new BreakGlassError(`${what} is empty (use null when there is none)`);
}

/** The digest in lower case. @throws BreakGlassError when it is not a SHA-256 hex digest. */
export function checkedSha256(sha256: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(sha256)) throw new BreakGlassError(`"${sha256}" is not a SHA-256 hex digest`);
  return sha256.toLowerCase();
}

const tools = (input: Checked): { decrypt: string; decompress?: string; restore: string } => ({
  decrypt: input.payload.encryption,
  ...(input.payload.compression === 'none' ? {} : { decompress: input.payload.compression }),
  restore: input.payload.dumpFormat === 'custom' ? 'pg_restore' : 'psql',
});

function header(input: Checked): string[] {
  const t = tools(input);
  return [
    '#!/usr/bin/env bash',
    '# Offsite break-glass restore: puts one database backup back into PostgreSQL with standard tools',
    `# only (aws, sha256sum, ${[t.decrypt, t.decompress, t.restore, ...(t.restore === 'psql' ? [] : ['psql'])].filter(Boolean).join(', ')}), without Offsite.`,
    '# Printed by `offsite restore db --print-commands`; the runbook is docs/restore.md.',
    '#',
    ...usage(input.payload.encryption),
    '#',
    `# What it does: (1) downloads ${input.payload.versionId !== null ? 'this exact version of ' : ''}the backup object into a private temporary`,
    ...(input.sha256 !== undefined
      ? ['# directory; (2) checks its SHA-256 against the hash the backup recorded, and stops if they differ;']
      : ['# directory; (2) prints its SHA-256 (no hash was recorded to check it against);']),
    `# (3) decrypts${input.payload.compression === 'none' ? '' : ', decompresses'} and restores it as one stream, in ONE transaction: if anything fails,`,
    '# the target database is left exactly as it was; (4) prints the row count of every table.',
    '# The decrypted data never touches the disk; the temporary directory is deleted however the script ends.',
    '',
    ...SHELL_OPTIONS,
  ];
}

/** The shell options every script runs with. */
export const SHELL_OPTIONS = [
  'set -euo pipefail   # stop at the first failing command, also inside a pipeline or on an unset variable',
  'umask 077           # files this script creates are readable by you only',
];

/** The header's "How to use it": save, check the settings, put the secrets into the environment, run. */
export function usage(encryption: Encryption): string[] {
  const secrets: [string, string][] = [
    ['read -r AWS_ACCESS_KEY_ID && export AWS_ACCESS_KEY_ID', "the READER's S3 credentials"],
    ['read -rs AWS_SECRET_ACCESS_KEY && export AWS_SECRET_ACCESS_KEY', '  (or: export AWS_PROFILE=NAME)'],
    encryption === 'age'
      ? ['export AGE_IDENTITY_FILE=/path/to/identity.txt', 'the age private key (a file path)']
      : ['read -rs OFFSITE_ENCRYPTION_PASSWORD && export OFFSITE_ENCRYPTION_PASSWORD', 'the backup password'],
    ['read -rs PGPASSWORD && export PGPASSWORD', "the target user's password (or ~/.pgpass)"],
  ];
  const width = Math.max(...secrets.map(([command]) => command.length));
  return [
    '# How to use it:',
    '#   1. Save this text to a file (e.g. restore.sh) and read it: every step is explained.',
    '#   2. Check the settings below, above all TARGET: the database that receives the data.',
    '#   3. Put the secrets into your shell environment, never into this file (`read -rs` keeps them',
    '#      off the screen and out of your shell history):',
    ...secrets.map(([command, doc]) => `#        ${command.padEnd(width)}  # ${doc}`),
    '#   4. Run it: bash restore.sh',
  ];
}

function settings(input: Checked): string[] {
  const lines = [
    RULE,
    "# Settings: what to restore (recorded in the backup's manifest) and where to. Values are in single",
    '# quotes, so spaces, quotes and $ in them are taken literally. Run the whole file: the commands below',
    '# use these variables.',
  ];
  lines.push(`BUCKET=${shellQuote(input.bucket)}`, `KEY=${shellQuote(input.payload.key)}`);
  if (input.payload.versionId !== null) {
    lines.push(
      '# The exact version of the object: with versioning (Object Lock) one key can hold several.',
      `VERSION_ID=${shellQuote(input.payload.versionId)}`,
    );
  } else {
    lines.push("# No version id was recorded, so the object's current version is downloaded.");
  }
  lines.push(`REGION=${shellQuote(input.region)}`);
  if (input.endpoint !== undefined)
    lines.push('# The S3 server (not AWS itself).', `ENDPOINT=${shellQuote(input.endpoint)}`);
  if (input.sha256 !== undefined)
    lines.push(
      '# SHA-256 of the stored (encrypted) bytes, as the manifest recorded it.',
      `EXPECTED_SHA256=${shellQuote(input.sha256)}`,
    );
  if (input.manifestKey !== undefined) {
    lines.push(
      '# The manifest: written last, it proves the backup complete and holds the hash above.',
      `MANIFEST_KEY=${shellQuote(input.manifestKey)}`,
    );
  } else {
    lines.push('# This backup has no manifest (made by the old pg_dump | openssl shell pipeline).');
  }
  lines.push(...targetSetting(input.target));
  return lines;
}

/** The settings block's last lines: the target database. */
export const targetSetting = (target: string): string[] => [
  "# The database to restore into. No password here: PostgreSQL's tools read PGPASSWORD (or ~/.pgpass).",
  `TARGET=${shellQuote(target)}`,
];

function preflight(input: Checked): string[] {
  const t = tools(input);
  return preflightChecks(
    [
      'aws',
      'sha256sum',
      t.decrypt,
      ...(t.decompress ? [t.decompress] : []),
      ...(t.restore === 'pg_restore' ? ['pg_restore'] : []),
      'psql',
    ],
    input.payload.encryption,
  );
}

/** Step 0: `fail` and `need`, each tool checked, then the secret for `encryption`. */
export function preflightChecks(needed: readonly string[], encryption: Encryption): string[] {
  const packages: Record<string, string> = {
    aws: 'awscli',
    sha256sum: 'coreutils',
    dd: 'coreutils',
    age: 'age',
    openssl: 'openssl',
    zstd: 'zstd',
    gzip: 'gzip',
    pg_restore: 'postgresql-client',
    psql: 'postgresql-client',
  };
  const lines = [
    RULE,
    '# 0. Check that the tools and secrets are there, before anything is downloaded or written.',
    '#    pg_restore and psql should come from the same or a newer PostgreSQL release than the pg_dump',
    "#    that made the backup (the manifest's pgDumpVersion).",
    'fail() { printf \'break-glass: %s\\n\' "$*" >&2; exit 1; }',
    'need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed (Debian/Ubuntu: apt-get install -y $2)"; }',
    ...needed.map((tool) => `need ${tool} ${packages[tool] ?? tool}`),
  ];
  if (encryption === 'age') {
    lines.push(
      "# (Offsite's own name for it, OFFSITE_AGE_IDENTITY_FILE, works too.)",
      'AGE_IDENTITY_FILE="${AGE_IDENTITY_FILE:-${OFFSITE_AGE_IDENTITY_FILE:-}}"',
      '[ -n "$AGE_IDENTITY_FILE" ] || fail \'set AGE_IDENTITY_FILE to the path of the age identity file (the private key)\'',
      '[ -r "$AGE_IDENTITY_FILE" ] || fail "cannot read the identity file AGE_IDENTITY_FILE=$AGE_IDENTITY_FILE"',
    );
  } else {
    lines.push(
      '[ -n "${OFFSITE_ENCRYPTION_PASSWORD:-}" ] || fail \'put the backup password into the environment first: read -rs OFFSITE_ENCRYPTION_PASSWORD && export OFFSITE_ENCRYPTION_PASSWORD\'',
    );
  }
  return lines;
}

function workspace(): string[] {
  return [
    '# A private temporary directory for the downloaded, still encrypted backup; deleted on exit.',
    '# It needs room for the whole object: point TMPDIR at a bigger disk if /tmp is small.',
    'WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/offsite-restore.XXXXXX")"',
    'trap \'rm -rf -- "$WORKDIR"\' EXIT',
    "trap 'exit 130' INT",
    "trap 'exit 143' TERM",
    'PAYLOAD="$WORKDIR/payload"',
  ];
}

function download(input: Checked): string[] {
  const version = input.payload.versionId !== null;
  const args = [
    '--bucket "$BUCKET"',
    '--key "$KEY"',
    // Joined with `=`: a version id may start with "-", which the AWS CLI would take for an option.
    ...(version ? ['--version-id="$VERSION_ID"'] : []),
    '--region "$REGION"',
    ...(input.endpoint !== undefined ? ['--endpoint-url "$ENDPOINT"'] : []),
    '"$PAYLOAD"',
  ];
  return [
    RULE,
    `# 1. Download ${version ? 'that exact version of ' : ''}the backup object with the AWS CLI (credentials from the environment).`,
    ...(input.endpoint !== undefined
      ? [
          '#    If your S3 server needs path-style requests (MinIO, Ceph without wildcard DNS) and this fails',
          '#    with a DNS error, run once: aws configure set default.s3.addressing_style path',
        ]
      : []),
    ...(input.manifestKey !== undefined
      ? ['printf \'break-glass: backup manifest s3://%s/%s\\n\' "$BUCKET" "$MANIFEST_KEY" >&2']
      : []),
    `printf 'break-glass: 1/4 downloading s3://%s/%s${version ? ' (version %s)' : ''}\\n' "$BUCKET" "$KEY"${version ? ' "$VERSION_ID"' : ''} >&2`,
    `aws s3api get-object \\\n${args.map((arg) => `  ${arg}`).join(' \\\n')} >/dev/null`,
  ];
}

function integrity(input: Checked): string[] {
  if (input.sha256 === undefined) {
    return [
      RULE,
      '# 2. There is no recorded hash to check against (no manifest).',
      ...(input.payload.encryption === 'openssl'
        ? [
            '#    openssl enc has no integrity check of its own: a damaged file fails halfway through (or',
            '#    restores damaged SQL that fails), and the transaction is then rolled back.',
          ]
        : ['#    age checks every chunk it decrypts: a damaged file fails, and the transaction is rolled back.']),
      '#    The SHA-256 of what was downloaded, for your notes:',
      "printf 'break-glass: 2/4 no recorded hash to compare with; SHA-256 of the download:\\n' >&2",
      'sha256sum "$PAYLOAD" >&2',
    ];
  }
  return [
    RULE,
    '# 2. Check the downloaded bytes: their SHA-256 must equal the one the manifest recorded. A damaged or',
    '#    replaced object stops here, before anything is decrypted or written to the database.',
    "printf 'break-glass: 2/4 checking the SHA-256 of the downloaded bytes\\n' >&2",
    'ACTUAL_SHA256="$(sha256sum "$PAYLOAD" | cut -d \' \' -f 1)"',
    'if [ "$ACTUAL_SHA256" != "$EXPECTED_SHA256" ]; then',
    '  fail "the downloaded object\'s SHA-256 is $ACTUAL_SHA256 but the manifest recorded $EXPECTED_SHA256: the backup is damaged or was replaced. Nothing was restored; pick another backup (offsite list)."',
    'fi',
  ];
}

function restore(input: Checked): string[] {
  const decrypt =
    input.payload.encryption === 'age'
      ? {
          command: 'age -d -i "$AGE_IDENTITY_FILE" "$PAYLOAD"',
          doc: 'age -d            decrypts with your private identity file (age checks every chunk: damage stops it)',
        }
      : {
          command: 'openssl enc -d -aes-256-cbc -pbkdf2 -pass env:OFFSITE_ENCRYPTION_PASSWORD -in "$PAYLOAD"',
          doc: 'openssl enc -d    decrypts AES-256-CBC with the password read from OFFSITE_ENCRYPTION_PASSWORD',
        };
  const decompress = {
    zstd: {
      command: 'zstd -d -c -q',
      doc: 'zstd -d -c        decompresses (zstd frames carry a checksum: damage stops it)',
    },
    gzip: { command: 'gzip -d -c', doc: 'gzip -d -c        decompresses (gzip checks a CRC at the end)' },
    none: undefined,
  }[input.payload.compression];
  const stream = [decrypt.command, ...(decompress ? [decompress.command] : [])];
  const docs = [
    decrypt.doc,
    ...(decompress ? [decompress.doc] : ['(the backup is not compressed: no decompression step)']),
  ];
  return [
    RULE,
    '# 3. Decrypt, decompress and restore as one stream (the decrypted data never touches the disk):',
    ...docs.map((doc) => `#      ${doc}`),
    ...restoreStep(input.payload.dumpFormat, input, stream, SINGLE_WORDS),
  ];
}

/** What the restore step's comments and progress say about the stream that feeds it. */
export interface RestoreWords {
  /** The progress label of the restore step, e.g. `3/4`. */
  progress: string;
  /** Where the stored bytes were checked, said after the note on reading the rest of the archive. */
  checked: string;
  /** Comment text (each line without its `#    `): when a --data-only restore sends COMMIT. */
  dataOnlyCommit: string[];
  /** Comment text (each line without its `#    `): when a plain SQL restore sends COMMIT. */
  plainCommit: string[];
}

const SINGLE_WORDS: RestoreWords = {
  progress: '3/4',
  checked: 'The whole file was already checked in step 2.',
  dataOnlyCommit: [
    'One transaction: BEGIN goes first, and COMMIT only once the whole stream was decrypted,',
    'decompressed and converted without error; otherwise PostgreSQL rolls everything back.',
  ],
  plainCommit: [
    'One transaction: BEGIN goes first, and COMMIT only once the whole stream was decrypted and',
    'decompressed without error. On any error psql stops, or its input ends without COMMIT, and',
    'PostgreSQL rolls everything back. (psql --single-transaction is not used: it would commit',
    'whatever arrived even when decryption failed halfway.)',
  ],
};

/** What the restore step restores: the options and table selection, and whether the backup has a manifest. */
export interface RestoreSelection {
  options: BreakGlassTarget['options'];
  tables: TableName[];
  manifestKey?: string;
}

/**
 * The restore step after its heading: pg_restore (custom format) or psql (plain SQL) fed by `stream`,
 * a pipeline whose output is the dump, in ONE transaction; with the comments explaining each flag.
 */
export function restoreStep(
  dumpFormat: DumpFormat,
  selection: RestoreSelection,
  stream: string[],
  words: RestoreWords,
): string[] {
  return dumpFormat === 'custom' ? customRestore(selection, stream, words) : plainRestore(selection, stream, words);
}

function customRestore(input: RestoreSelection, stream: string[], words: RestoreWords): string[] {
  const { options } = input;
  const dataOnly = options.dataOnly === true;
  const tables = tableFlags(input.tables);
  // [what goes on the command line, how the comment shows it, what it does]; values appear only on the
  // command line (quoted), never in a comment, where a newline in a name would end the comment.
  const flags: [string, string, string][] = dataOnly
    ? []
    : [
        [
          '--single-transaction',
          '--single-transaction',
          'everything in one transaction: on any error nothing is committed',
        ],
        ['--exit-on-error', '--exit-on-error', 'stop at the first error'],
      ];
  if (options.noOwner)
    flags.push(['--no-owner', '--no-owner', "do not set owners (the target's roles differ, as in managed databases)"]);
  if (options.noPrivileges) flags.push(['--no-privileges', '--no-privileges', 'do not restore GRANTs']);
  if (options.schemaOnly)
    flags.push(['--schema-only', '--schema-only', 'only the schema (tables, indexes, ...), no rows']);
  if (dataOnly)
    flags.push(['--data-only', '--data-only', 'only rows (and sequence values), into tables that already exist']);
  flags.push(...tables.flags);
  flags.push(
    dataOnly
      ? ['-f -', '-f -', 'write the SQL to the pipe, for psql']
      : ['--dbname="$TARGET"', '--dbname="$TARGET"', 'the target database'],
  );
  const width = Math.max(...flags.map(([, shown]) => shown.length));
  const restoreCommand = `{ pg_restore ${flags.map(([flag]) => flag).join(' ')} && cat > /dev/null; }`;
  const lines = [
    `#      pg_restore        reads the custom-format archive from the pipe and ${dataOnly ? 'turns it into SQL' : 'restores it'}:`,
    ...[...new Set(flags.map(([, shown, doc]) => `#        ${shown.padEnd(width)}  ${doc}`))],
    ...(dataOnly
      ? [
          '#      psql              runs that SQL: -X ignores ~/.psqlrc, -q is quiet, ON_ERROR_STOP=1 stops at the first error',
        ]
      : []),
    '#    pg_restore may stop reading before the end of the archive (with --schema-only or a table',
    '#    selection); `cat > /dev/null` then reads the rest, so that the steps before it do not fail',
    `#    with "broken pipe". ${words.checked}`,
    ...tables.notes,
  ];
  if (!dataOnly) {
    return [
      ...lines,
      '#    The target must be an empty database (create one with: createdb -h HOST -U USER NAME). If the',
      '#    application already created its tables there, see docs/restore.md (restore before it starts).',
      `printf 'break-glass: ${words.progress} restoring into %s\\n' "$TARGET" >&2`,
      [...stream, restoreCommand].join(' \\\n  | '),
    ];
  }
  return [
    ...lines,
    '#    --data-only: the tables must exist and be EMPTY. Rows the application created at start-up (a',
    '#    default admin user, say) clash with the restored ones: empty those tables first (TRUNCATE), or',
    '#    use `offsite restore db --data-only --truncate-first`.',
    ...words.dataOnlyCommit.map((line) => `#    ${line}`),
    "#    pg_restore writes the rows table by table in the archive's order, not in foreign-key order, so",
    "#    the target's foreign keys are dropped first and added back at the end, inside the transaction:",
    '#    adding them back checks every row. (pg_restore --disable-triggers would need a superuser.)',
    `printf 'break-glass: ${words.progress} restoring into %s\\n' "$TARGET" >&2`,
    '{',
    "  cat <<'SQL'",
    'BEGIN;',
    "SET LOCAL search_path = '';",
    'CREATE TEMP TABLE break_glass_foreign_keys ON COMMIT DROP AS',
    "  SELECT pg_catalog.format('%I.%I', n.nspname, t.relname) AS table_name, c.conname,",
    '    pg_catalog.pg_get_constraintdef(c.oid) AS definition',
    '  FROM pg_catalog.pg_constraint c',
    '  JOIN pg_catalog.pg_class t ON t.oid = c.conrelid',
    '  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace',
    "  WHERE c.contype = 'f' AND c.conparentid = 0 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema';",
    'DO $$',
    'DECLARE fk record;',
    'BEGIN',
    '  FOR fk IN SELECT * FROM pg_temp.break_glass_foreign_keys LOOP',
    "    EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', fk.table_name, fk.conname);",
    '  END LOOP;',
    'END $$;',
    'SQL',
    `  ${[...stream, restoreCommand].join(' \\\n    | ')} \\\n    && cat <<'SQL'`,
    'DO $$',
    'DECLARE fk record;',
    'BEGIN',
    '  FOR fk IN SELECT * FROM pg_temp.break_glass_foreign_keys LOOP',
    "    EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.table_name, fk.conname, fk.definition);",
    '  END LOOP;',
    'END $$;',
    'COMMIT;',
    'SQL',
    '} | psql -X -q -v ON_ERROR_STOP=1 -d "$TARGET" >/dev/null   # errors still show: they go to stderr',
  ];
}

/** pg_restore -t takes a bare table name (matched in every schema); -n limits the selection to one schema. */
function tableFlags(tables: TableName[]): { flags: [string, string, string][]; notes: string[] } {
  if (tables.length === 0) return { flags: [], notes: [] };
  const schemas = new Set(tables.map((t) => t.schema));
  const [only] = schemas;
  const flags: [string, string, string][] = [];
  if (schemas.size === 1 && only !== undefined)
    flags.push([`-n ${shellQuote(only)}`, '-n SCHEMA', 'only objects in this schema']);
  for (const table of tables)
    flags.push([
      `-t ${shellQuote(table.name)}`,
      '-t TABLE',
      'only this table (its definition and rows, not its indexes or constraints)',
    ]);
  const oneSchema = schemas.size === 1 && only !== undefined;
  const notes = oneSchema
    ? []
    : [
        '#    -t matches a table name in every schema (pg_restore takes no schema.table), so tables of the',
        '#    same name in other schemas are restored too.',
      ];
  return { flags, notes };
}

function plainRestore(input: RestoreSelection, stream: string[], words: RestoreWords): string[] {
  const { options } = input;
  const ignored = [
    options.schemaOnly ? 'schema-only' : '',
    options.dataOnly ? 'data-only' : '',
    (options.tables ?? []).length > 0 ? 'a table selection' : '',
  ].filter(Boolean);
  return [
    '#      psql              runs the SQL: -X ignores ~/.psqlrc, -q is quiet, ON_ERROR_STOP=1 stops at the first error',
    ...words.plainCommit.map((line) => `#    ${line}`),
    '#    The backup is plain SQL, which restores only whole, into an empty database: schema-only,',
    '#    data-only and table selection need a custom-format backup (.dump) and do not apply here.',
    ...(ignored.length > 0
      ? [`#    (You asked for ${ignored.join(' and ')}: not possible with this backup; it restores everything.)`]
      : []),
    ...(input.manifestKey !== undefined
      ? ['#    The owner and privilege options do not apply either: Offsite makes plain backups without them.']
      : [
          '#    Backups of the old shell pipeline were dumped WITH owners and grants: if psql stops at',
          '#    `role "..." does not exist`, create that role in the target first, or drop those lines by',
          "#    inserting  | grep -v -E '^(ALTER .* OWNER TO |GRANT |REVOKE )'  before `&& printf`.",
        ]),
    `printf 'break-glass: ${words.progress} restoring into %s\\n' "$TARGET" >&2`,
    '{',
    "  printf 'BEGIN;\\n'",
    `  ${stream.join(' \\\n    | ')} \\\n    && printf '\\nCOMMIT;\\n'`,
    '} | psql -X -q -v ON_ERROR_STOP=1 -d "$TARGET" >/dev/null   # errors still show: they go to stderr',
  ];
}

/** The last step, number `step` of `step`: every table of the target with its row count. */
export function summary(step = 4): string[] {
  return [
    RULE,
    `# ${step}. What the target holds now: every table with its row count. Compare them with the counts the`,
    '#    backup recorded (the manifest\'s sealed part; see docs/restore.md, "after the restore").',
    `printf 'break-glass: ${step}/${step} restored; rows per table in the target:\\n' >&2`,
    "psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d \"$TARGET\" <<'SQL'",
    "SELECT format('SELECT %L, count(*) FROM ONLY %I.%I', n.nspname || '.' || c.relname, n.nspname, c.relname)",
    'FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace',
    "WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'",
    'ORDER BY n.nspname, c.relname',
    '\\gexec',
    'SQL',
    "printf 'break-glass: done\\n' >&2",
  ];
}
