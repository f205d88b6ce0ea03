/**
 * Break-glass for a chunked backup (manifest version 2; docs/format.md, "Chunked layout"): the bash
 * script that restores it with standard tools only (aws, sha256sum, dd, age, zstd, pg_restore or
 * psql). Pure; `offsite restore db --print-commands` prints it.
 *
 * The script downloads the root object and every pack into a private temporary directory, checks
 * each one's SHA-256 against the manifest, decrypts them there, rebuilds the recipe from the root
 * (the recipe of the recipe) and then feeds the dump, cut out of the packs in recipe order and
 * decompressed, to the same restore step as the single-object script (break-glass.ts): same
 * options, same single transaction, same messages and exit codes.
 *
 * As there, every value from the bucket or the user goes into the settings block single-quoted
 * (shellQuote), and no secret appears in the script.
 */
import type { DumpFormat } from '../format/layout.js';
import { isPackId } from '../format/chunked.js';
import {
  BreakGlassError,
  checkedSha256,
  checkVersionId,
  preflightChecks,
  restoreStep,
  RULE,
  SHELL_OPTIONS,
  shellQuote,
  summary,
  targetSetting,
  usage,
  validateTarget,
  type BreakGlassTarget,
  type RestoreWords,
  type TableName,
} from './break-glass.js';

/** An object of the backup as the manifest records it. */
export interface StoredObject {
  key: string;
  /** The version written; null when none was recorded (the current version is downloaded). */
  versionId: string | null;
  /** Bytes stored (encrypted). */
  size: number;
  /** SHA-256 of the stored bytes, checked before anything is decrypted. */
  sha256: string;
}

export interface ChunkedBreakGlassInput extends BreakGlassTarget {
  /** The manifest's key: where the hashes below come from. */
  manifestKey: string;
  dumpFormat: DumpFormat;
  /** The root object: the recipe of the recipe, zstd-compressed, then age-encrypted. */
  root: StoredObject;
  /** Every pack the backup needs (the manifest's `payload.packs`). */
  packs: (StoredObject & { id: string })[];
}

interface Checked extends ChunkedBreakGlassInput {
  tables: TableName[];
}

/** Steps: 1 download and check, 2 decrypt, 3 rebuild the recipe, 4 restore, 5 row counts. */
const STEPS = 5;

/**
 * The complete restore script for one chunked backup, with comments for someone who has never used Offsite.
 * @throws BreakGlassError when the input cannot make a safe, working script.
 */
export function chunkedBreakGlassScript(input: ChunkedBreakGlassInput): string {
  const checked = validate(input);
  const sections = [
    header(checked),
    settings(checked),
    preflight(checked),
    workspace(checked),
    download(checked),
    decrypt(),
    rebuild(),
    restore(checked),
    summary(STEPS),
  ];
  return `${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}

function validate(input: ChunkedBreakGlassInput): Checked {
  const objects = [input.root, ...input.packs];
  const tables = validateTarget(input, {
    named: [
      ['manifest key', input.manifestKey],
      ['root key', input.root.key],
      ...input.packs.map((pack) => [`key of pack ${pack.id}`, pack.key] as const),
    ],
    values: [...objects.flatMap((object) => [object.key, object.versionId ?? '']), input.manifestKey],
  });
  const ids = new Set<string>();
  for (const pack of input.packs) {
    if (!isPackId(pack.id)) throw new BreakGlassError(`"${pack.id}" is not a pack id (16 hexadecimal digits)`);
    if (ids.has(pack.id)) throw new BreakGlassError(`pack ${pack.id} is listed twice`);
    ids.add(pack.id);
  }
  checkVersionId(input.root.versionId, "the root object's version id");
  for (const pack of input.packs) checkVersionId(pack.versionId, `the version id of pack ${pack.id}`);
  return {
    ...input,
    root: { ...input.root, sha256: checkedSha256(input.root.sha256) },
    packs: input.packs.map((pack) => ({ ...pack, sha256: checkedSha256(pack.sha256) })),
    tables,
  };
}

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** Bytes as a person reads them: 1.5 GiB. */
function humanBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

const storedBytes = (input: Checked): number => input.packs.reduce((total, pack) => total + pack.size, input.root.size);

function header(input: Checked): string[] {
  const restoreTools = input.dumpFormat === 'custom' ? 'pg_restore, psql' : 'psql';
  return [
    '#!/usr/bin/env bash',
    '# Offsite break-glass restore: puts one database backup back into PostgreSQL with standard tools',
    `# only (aws, sha256sum, dd, age, zstd, ${restoreTools}), without Offsite.`,
    '# Printed by `offsite restore db --print-commands`; the runbook is docs/restore.md.',
    '#',
    '# This backup has the chunked layout. The dump was cut into chunks, and each chunk stored once: new',
    '# chunks were compressed together into zstd frames, in packs (age files of many frames) that later',
    '# backups holding the same data use too. A recipe lists, in order, where each chunk lies. The recipe',
    "# is stored the same way, in chunks; the backup's root object (zstd, then age) holds the recipe of",
    '# the recipe.',
    '#',
    ...usage('age'),
    '#',
    `# What it does: (1) downloads the root object and the ${plural(input.packs.length, 'pack')} this backup needs (the versions`,
    '# the manifest recorded) into a private temporary directory, and checks the SHA-256 of each against',
    '# the hash the manifest recorded: it stops at the first that differs; (2) decrypts them there;',
    "# (3) rebuilds the recipe from the root and checks every line of it; (4) cuts the dump's chunks out",
    '# of the packs in recipe order, decompresses and restores them as one stream, in ONE transaction:',
    '# if anything fails, the target database is left exactly as it was; (5) prints the row count of',
    '# every table. The decrypted packs lie in the temporary directory, readable by you only, while the',
    '# script runs; of the dump, only the frame being cut (about a MiB) does. The directory is deleted',
    '# however the script ends.',
    '',
    ...SHELL_OPTIONS,
  ];
}

function settings(input: Checked): string[] {
  const version = (versionId: string | null): string => shellQuote(versionId ?? '');
  const lines = [
    RULE,
    "# Settings: what to restore (recorded in the backup's manifest) and where to. Values are in single",
    '# quotes, so spaces, quotes and $ in them are taken literally. Run the whole file: the commands below',
    '# use these variables.',
    `BUCKET=${shellQuote(input.bucket)}`,
    `REGION=${shellQuote(input.region)}`,
  ];
  if (input.endpoint !== undefined)
    lines.push('# The S3 server (not AWS itself).', `ENDPOINT=${shellQuote(input.endpoint)}`);
  lines.push(
    '# The manifest: written last, it proves the backup complete and holds the hashes below.',
    `MANIFEST_KEY=${shellQuote(input.manifestKey)}`,
    '# The root object (the recipe of the recipe); the exact version of it (with versioning, Object Lock,',
    "# one key can hold several; '' when none was recorded: the current version is downloaded); and the",
    '# SHA-256 of its stored (encrypted) bytes, as the manifest recorded it.',
    `ROOT_KEY=${shellQuote(input.root.key)}`,
    `ROOT_VERSION_ID=${version(input.root.versionId)}`,
    `ROOT_SHA256=${shellQuote(input.root.sha256)}`,
    `# Every pack the backup needs (${plural(input.packs.length, 'pack')}), four values each: its id, the SHA-256 of its`,
    "# stored (encrypted) bytes as the manifest recorded it, its key, and its version id ('' when none",
    '# was recorded).',
    'PACKS=(',
    ...input.packs.map(
      (pack) => `  ${[pack.id, pack.sha256, pack.key].map(shellQuote).join(' ')} ${version(pack.versionId)}`,
    ),
    ')',
    ...targetSetting(input.target),
  );
  return lines;
}

function preflight(input: Checked): string[] {
  return [
    ...preflightChecks(
      ['aws', 'sha256sum', 'dd', 'age', 'zstd', ...(input.dumpFormat === 'custom' ? ['pg_restore'] : []), 'psql'],
      'age',
    ),
    '# The script keeps the size of every decrypted pack in an associative array (bash 4), and cuts',
    "# chunks out of the packs with GNU dd's iflag=skip_bytes,count_bytes (coreutils 8.16 or newer).",
    '[ "${BASH_VERSINFO[0]}" -ge 4 ] || fail "this script needs bash 4 or newer (this is bash $BASH_VERSION)"',
  ];
}

function workspace(input: Checked): string[] {
  return [
    '# A private temporary directory (mktemp -d makes it mode 700: yours only) for the downloaded objects,',
    '# the decrypted packs and the frame being cut; deleted however the script ends. It needs room for the',
    `# packs, about ${humanBytes(storedBytes(input))} in all, and the recipe: point TMPDIR at a bigger disk if /tmp is small.`,
    'WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/offsite-restore.XXXXXX")"',
    'trap \'rm -rf -- "$WORKDIR"\' EXIT',
    "trap 'exit 130' INT",
    "trap 'exit 143' TERM",
    'chmod 700 "$WORKDIR"',
    'mkdir "$WORKDIR/stored" "$WORKDIR/packs"   # the downloaded (encrypted) objects; the decrypted packs',
  ];
}

function download(input: Checked): string[] {
  return [
    RULE,
    '# 1. Download each object with the AWS CLI (credentials from the environment), the version the',
    '#    manifest recorded, and check the SHA-256 of its bytes against the one the manifest recorded. A',
    '#    damaged or replaced object stops the script here, naming it, before anything is decrypted or',
    '#    written to the database.',
    ...(input.endpoint !== undefined
      ? [
          '#    If your S3 server needs path-style requests (MinIO, Ceph without wildcard DNS) and this fails',
          '#    with a DNS error, run once: aws configure set default.s3.addressing_style path',
        ]
      : []),
    '# download_checked KEY VERSION_ID EXPECTED_SHA256 FILE WHAT',
    'download_checked() {',
    '  local args=(--bucket "$BUCKET" --key "$1")',
    '  # Joined with =: a version id may start with "-", which the AWS CLI would take for an option.',
    '  if [ -n "$2" ]; then args+=("--version-id=$2"); fi',
    `  args+=(--region "$REGION"${input.endpoint !== undefined ? ' --endpoint-url "$ENDPOINT"' : ''})`,
    '  aws s3api get-object "${args[@]}" "$4" >/dev/null ||',
    '    fail "cannot download $5 (s3://$BUCKET/$1): see the error above. Nothing was restored."',
    '  local actual',
    '  actual="$(sha256sum "$4" | cut -d \' \' -f 1)"',
    '  if [ "$actual" != "$3" ]; then',
    '    fail "the SHA-256 of $5 (s3://$BUCKET/$1) is $actual but the manifest recorded $3: the backup is damaged or was replaced. Nothing was restored; pick another backup (offsite list)."',
    '  fi',
    '}',
    'printf \'break-glass: backup manifest s3://%s/%s\\n\' "$BUCKET" "$MANIFEST_KEY" >&2',
    `printf 'break-glass: 1/${STEPS} downloading and checking the root object and %s pack(s)\\n' "$((\${#PACKS[@]} / 4))" >&2`,
    'download_checked "$ROOT_KEY" "$ROOT_VERSION_ID" "$ROOT_SHA256" "$WORKDIR/stored/root" \'the root object\'',
    'for ((i = 0; i < ${#PACKS[@]}; i += 4)); do',
    '  id="${PACKS[i]}"',
    '  printf \'break-glass:   pack %s (%s of %s)\\n\' "$id" "$((i / 4 + 1))" "$((${#PACKS[@]} / 4))" >&2',
    '  download_checked "${PACKS[i + 2]}" "${PACKS[i + 3]}" "${PACKS[i + 1]}" "$WORKDIR/stored/$id" "pack $id"',
    'done',
  ];
}

function decrypt(): string[] {
  return [
    RULE,
    '# 2. Decrypt with age and your identity file (age checks every chunk it decrypts: damage stops it).',
    '#    Each pack is decrypted into $WORKDIR/packs, and its encrypted copy deleted to save room. The',
    '#    root object is decrypted and decompressed (zstd -d) into the root text: the recipe of the recipe.',
    `printf 'break-glass: 2/${STEPS} decrypting\\n' >&2`,
    'declare -A PACK_SIZE   # bytes of each decrypted pack, by id: step 3 checks every recipe line against it',
    'for ((i = 0; i < ${#PACKS[@]}; i += 4)); do',
    '  id="${PACKS[i]}"',
    '  age -d -i "$AGE_IDENTITY_FILE" "$WORKDIR/stored/$id" > "$WORKDIR/packs/$id" ||',
    '    fail "cannot decrypt pack $id with the identity file AGE_IDENTITY_FILE=$AGE_IDENTITY_FILE. Nothing was restored."',
    '  rm -f -- "$WORKDIR/stored/$id"',
    '  PACK_SIZE[$id]="$(stat -c %s "$WORKDIR/packs/$id")"',
    'done',
    'age -d -i "$AGE_IDENTITY_FILE" "$WORKDIR/stored/root" | zstd -d -c -q > "$WORKDIR/root.txt" ||',
    '  fail "cannot decrypt the root object with the identity file AGE_IDENTITY_FILE=$AGE_IDENTITY_FILE. Nothing was restored."',
  ];
}

function rebuild(): string[] {
  return [
    RULE,
    '# 3. Rebuild the recipe. A recipe has one line per chunk, in order:',
    '#      <pack id> <frame offset> <frame length> <skip> <chunk length>',
    '#    The zstd frame is the bytes [frame offset, frame offset + frame length) of the decrypted pack;',
    '#    decompressed, it holds chunks one after the other, and this chunk is the bytes [skip, skip +',
    '#    chunk length) of that. The root text is the recipe of the recipe: the chunks it names, put',
    '#    together, are the recipe of the dump.',
    '#      check_recipe FILE WHAT   reads every line of a recipe before it is used, and stops at one that',
    '#                               is not such a line, names a pack the manifest does not list, or whose',
    '#                               frame reaches past the end of its pack; prints the bytes of its chunks',
    '#      cut_chunks FILE BYTES    writes the chunks a recipe names, in its order: a frame is cut out of',
    '#                               its pack with dd and decompressed (zstd -d) into $WORKDIR/frame once for',
    '#                               the lines in a row that use it, and chunks that follow each other in it',
    '#                               are cut out of that with one dd; stops unless they make BYTES bytes',
    'check_recipe() {',
    '  local pack offset length skip plain extra number=0 total=0',
    '  if [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then',
    '    fail "the $2 does not end with a newline (truncated): the backup is damaged. Nothing was restored."',
    '  fi',
    '  while read -r pack offset length skip plain extra; do',
    '    number=$((number + 1))',
    '    # A pack id of 16 hexadecimal digits, then four numbers of at most 15 digits.',
    '    [[ ${#pack} -eq 16 && $pack != *[!0-9a-f]* && -n $plain && -z $extra && $offset$length$skip$plain != *[!0-9]* &&',
    '      ${#offset} -le 15 && ${#length} -le 15 && ${#skip} -le 15 && ${#plain} -le 15 ]] ||',
    '      fail "line $number of the $2 is not \\"<pack id> <frame offset> <frame length> <skip> <chunk length>\\": the backup is damaged. Nothing was restored."',
    '    [ -n "${PACK_SIZE[$pack]:-}" ] ||',
    '      fail "line $number of the $2 names pack $pack, which the manifest does not list: the backup is damaged. Nothing was restored."',
    '    [ $((10#$offset + 10#$length)) -le "${PACK_SIZE[$pack]}" ] ||',
    '      fail "line $number of the $2 reaches past the end of pack $pack: the backup is damaged. Nothing was restored."',
    '    total=$((total + 10#$plain))',
    '  done < "$1"',
    '  printf \'%s\\n\' "$total"',
    '}',
    '# take PACK OFFSET LENGTH START END: the bytes [START, END) of the frame at [OFFSET, OFFSET + LENGTH)',
    '# of a decrypted pack, decompressed; the frame is decompressed again only when it is another one.',
    '# Every command is checked with `|| fail`: in step 4 these functions run on the left of `&&`, where',
    '# bash ignores `set -e`, and a failure must never let COMMIT through.',
    'take() {',
    '  if [ "$1 $2 $3" != "$FRAME_HELD" ]; then',
    '    dd if="$WORKDIR/packs/$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=1M status=none \\',
    '      | zstd -d -c -q > "$WORKDIR/frame" ||',
    '      fail "cannot decompress the frame at $2 of pack $1: the backup is damaged; nothing is committed."',
    '    FRAME_HELD="$1 $2 $3"',
    '    FRAME_SIZE="$(stat -c %s "$WORKDIR/frame")" || fail "cannot read the size of $WORKDIR/frame"',
    '  fi',
    '  [ "$5" -le "$FRAME_SIZE" ] ||',
    '    fail "a chunk reaches past the end of its frame (pack $1, frame at $2): the backup is damaged; nothing is committed."',
    '  dd if="$WORKDIR/frame" iflag=skip_bytes,count_bytes skip="$4" count="$(($5 - $4))" bs=1M status=none ||',
    '    fail "cannot cut a chunk out of the frame at $2 of pack $1; nothing is committed."',
    '}',
    'cut_chunks() {',
    "  local pack offset length skip plain run_pack='' run_offset=0 run_length=0 run_start=0 run_end=0 written=0",
    "  FRAME_HELD='' FRAME_SIZE=0",
    '  [ -r "$1" ] || fail "cannot read $1"',
    '  while read -r pack offset length skip plain; do',
    '    offset=$((10#$offset)) length=$((10#$length)) skip=$((10#$skip)) plain=$((10#$plain))',
    '    if [ "$pack" = "$run_pack" ] && [ "$offset" -eq "$run_offset" ] && [ "$length" -eq "$run_length" ] &&',
    '      [ "$skip" -eq "$run_end" ]; then',
    '      run_end=$((skip + plain))   # right after the previous chunk, in the same frame: cut out together',
    '      continue',
    '    fi',
    '    if [ -n "$run_pack" ]; then',
    '      take "$run_pack" "$run_offset" "$run_length" "$run_start" "$run_end"',
    '      written=$((written + run_end - run_start))',
    '    fi',
    '    run_pack="$pack" run_offset="$offset" run_length="$length" run_start="$skip" run_end=$((skip + plain))',
    '  done < "$1"',
    '  if [ -n "$run_pack" ]; then',
    '    take "$run_pack" "$run_offset" "$run_length" "$run_start" "$run_end"',
    '    written=$((written + run_end - run_start))',
    '  fi',
    '  [ "$written" -eq "$2" ] ||',
    '    fail "the chunks of $1 make $written bytes, its lines add up to $2: nothing is committed."',
    '}',
    `printf 'break-glass: 3/${STEPS} rebuilding the recipe\\n' >&2`,
    'RECIPE_BYTES="$(check_recipe "$WORKDIR/root.txt" \'root recipe\')"',
    'cut_chunks "$WORKDIR/root.txt" "$RECIPE_BYTES" > "$WORKDIR/recipe.txt"',
    'ACTUAL_BYTES="$(stat -c %s "$WORKDIR/recipe.txt")"',
    'if [ "$ACTUAL_BYTES" != "$RECIPE_BYTES" ]; then',
    '  fail "the recipe is $ACTUAL_BYTES bytes, the root recipe says $RECIPE_BYTES: the backup is damaged. Nothing was restored."',
    'fi',
    'DUMP_BYTES="$(check_recipe "$WORKDIR/recipe.txt" \'recipe\')"',
    'printf \'break-glass: the dump is %s bytes in %s chunks\\n\' "$DUMP_BYTES" "$(wc -l < "$WORKDIR/recipe.txt")" >&2',
  ];
}

const CHUNKED_WORDS: RestoreWords = {
  progress: `4/${STEPS}`,
  checked: 'Every object was checked in step 1, the recipe in step 3.',
  dataOnlyCommit: [
    'One transaction: BEGIN goes first, and COMMIT only once the whole stream was cut out of the',
    'packs, decompressed and converted without error; otherwise PostgreSQL rolls everything back.',
  ],
  plainCommit: [
    'One transaction: BEGIN goes first, and COMMIT only once the whole stream was cut out of the',
    'packs and decompressed without error. On any error psql stops, or its input ends without',
    'COMMIT, and PostgreSQL rolls everything back. (psql --single-transaction is not used: it would',
    'commit whatever arrived even when the stream failed halfway.)',
  ],
};

function restore(input: Checked): string[] {
  return [
    RULE,
    "# 4. Cut the dump's chunks out of the packs and restore them as one stream:",
    '#      cut_chunks        writes the chunks of the dump in recipe order, decompressed (every line of the',
    '#                        recipe was checked in step 3, every pack against its SHA-256 in step 1, and by age)',
    ...restoreStep(input.dumpFormat, input, ['cut_chunks "$WORKDIR/recipe.txt" "$DUMP_BYTES"'], CHUNKED_WORDS),
  ];
}
