/**
 * docs/configuration.md, rendered from the settings table (pure). `npm run docs:config` writes it; a unit test fails
 * when the file in the repository differs from what this renders.
 */
import { SETTINGS, type SettingSpec } from './settings.js';

export const CONFIG_DOCS_PATH = 'docs/configuration.md';
export const CONFIG_DOCS_COMMAND = 'npm run docs:config';

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
const code = (text: string): string => `\`${text.replaceAll('|', '\\|')}\``;

function flagOf(spec: SettingSpec): string {
  if (!spec.flag) return '— (secret: environment only)';
  const value =
    spec.type === 'boolean'
      ? ' [true|false]'
      : spec.choices
        ? ` ${spec.choices.join('|')}`
        : spec.type === 'integer'
          ? ' N'
          : ' VALUE';
  return code(`--${spec.flag}${value}`) + (spec.type === 'list' ? ' (repeatable)' : '');
}

function typeOf(spec: SettingSpec): string {
  if (spec.choices) return spec.choices.map(code).join(', ');
  if (spec.type === 'list') return 'list (comma separated in the environment)';
  if (spec.pattern) return `${spec.type}: ${spec.pattern.expected}`;
  return spec.type;
}

export function renderConfigDocs(): string {
  const specs: SettingSpec[] = Object.values(SETTINGS);
  const header = ['`offsite.yaml`', 'environment', 'flag', 'type', 'default', 'what'];
  const rows = specs.map((spec) => [
    spec.secret ? `— (${code(spec.name)}: refused)` : code(spec.name),
    code(spec.env),
    flagOf(spec),
    typeOf(spec),
    spec.default === undefined ? '' : code(String(spec.default)),
    cell(spec.description),
  ]);
  const table = [header, header.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
  return [INTRO, table, OUTRO].join('\n\n') + '\n';
}

const INTRO = `<!-- Generated from src/config/settings.ts by \`${CONFIG_DOCS_COMMAND}\`: edit the table or src/config/config-docs.ts, not this file. -->

# Configuration

Every setting comes from a flag, an environment variable or \`offsite.yaml\` (\`--config FILE\`, else
\`OFFSITE_CONFIG\`, else \`./offsite.yaml\` when it exists), in that order of precedence. Secrets come only
from the environment: never from flags (visible in \`ps\`) and never from the config file (files end up in
repositories; a secret there is refused with exit 2). Each command reads the settings it needs and names a
missing or malformed one in a one-line error, before any work starts.

## Settings`;

const OUTRO = `## Defaults and details

- **Required:** \`environment\` and \`bucket\` for every command that reads or writes backups; \`databaseUrl\`
  (or the libpq variables below) for \`backup db\`; \`targetUrl\` (or the same libpq variables) for \`restore db\`; \`sourceBucket\` for
  \`backup files\` and \`restore files\`.
- **S3:** without \`s3Endpoint\`, AWS. The S3
  credentials (\`AWS_ACCESS_KEY_ID\`, \`AWS_SECRET_ACCESS_KEY\`, \`AWS_SESSION_TOKEN\`) default to the AWS SDK's
  credential chain. The files source's endpoint, path style and region default to AWS, false and \`AWS_REGION\`;
  its credentials (\`OFFSITE_SOURCE_ACCESS_KEY_ID\`, \`OFFSITE_SOURCE_SECRET_ACCESS_KEY\`) to the SDK's chain;
  \`sourcePrefix\` to the whole bucket.
- **Encryption:** age when recipients are set; \`ageIdentityFile\` must have mode 0600. openssl mode takes its
  password from \`OFFSITE_ENCRYPTION_PASSWORD\` only.
- **Backup:** part size from the database size (at least 16 MiB), \`pg_dump\` from the oldest major at least
  the server's among \`/usr/lib/postgresql/*/bin\` and \`PATH\`.
- **Files backup:** state cache \`~/.cache/offsite/files-<env>-<scope>.jsonl\`; \`s3MultipartLock\` true on AWS
  and false with an endpoint.
- **Signing:** without \`signingKeyFile\` manifests are unsigned; without \`trustedSigners\` signatures are shown
  but not required.

## The database password and libpq's variables

The database password comes from \`DATABASE_URL\`, \`PGPASSWORD\` or a passfile (\`PGPASSFILE\`); Offsite hands
it to \`pg_dump\` through the environment, never on its command line. A password in \`--database-url\` or
\`--target-url\` is refused (flags are visible in \`ps\`).

When \`DATABASE_URL\` is absent (or \`OFFSITE_TARGET_URL\`, for \`restore db\` and \`drill\`), libpq's own
conventions are a complete database setting, resolved as psql would: the service (\`PGSERVICE\`, from
\`PGSERVICEFILE\` or \`~/.pg_service.conf\`; its values win), then the PG* variables (\`PGHOST\`, \`PGPORT\`,
\`PGUSER\`, \`PGPASSWORD\`, \`PGDATABASE\`, \`PGSSLMODE\`, \`PGSSLROOTCERT\`, \`PGAPPNAME\`, \`PGCONNECT_TIMEOUT\`, …),
then the password file (\`PGPASSFILE\` or \`~/.pgpass\`, refused unless only its owner can read it). One of
\`PGHOST\`, \`PGHOSTADDR\`, \`PGDATABASE\` or \`PGSERVICE\` must be set, as \`cf conduit\` does (see
[deploy.md](deploy.md#cloud-foundry)); otherwise the command stops with \`no database: set DATABASE_URL …\` (exit 2).

## offsite.yaml

Shared settings at the top, per-environment ones below (the keys are the first column above):

\`\`\`yaml
bucket: acme-offsite-backups
ageRecipients: [age1teamkey..., age1breakglass...]
environments:
  staging:
    retentionDays: 14
  production:
    retentionDays: 35
\`\`\`

The scheduler's \`schedule:\` section of the same file is described in [schedule.md](schedule.md).`;
