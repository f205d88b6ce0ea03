/**
 * The rules a backup bucket must follow, as pure functions: what `bucket init` sets, which of its
 * changes would weaken protection, and what `bucket audit` reports. See docs/setup.md.
 */
export interface LifecycleSettings {
  id: string;
  enabled: boolean;
  prefix: string;
  expireDays?: number;
  deleteMarkers?: boolean;
  noncurrentDays?: number;
  abortMultipartDays?: number;
}

export interface BucketConfig {
  exists: boolean;
  objectLock: { enabled: boolean; mode?: string; days?: number };
  versioning: 'Enabled' | 'Suspended' | 'Off';
  lifecycle: LifecycleSettings[];
  publicAccessBlock: { ignorePublicAcls: boolean; blockPublicAcls: boolean } | undefined;
  policy: string | undefined;
}

export interface Requirements {
  prefix: string;
  retentionDays: number;
  expireDays: number;
  mode: 'COMPLIANCE' | 'GOVERNANCE';
}

export type Severity = 'critical' | 'high' | 'warning';

export interface Finding {
  severity: Severity;
  /** Stable name for machines and tests, e.g. `object-lock-off`. */
  check: string;
  problem: string;
  fix: string;
}

/** What `bucket init` sets: expire current versions, then their non-current copies, delete markers, and abandoned uploads. */
export function desiredLifecycle(requirements: Requirements): LifecycleSettings[] {
  const prefix = requirements.prefix === '' ? '' : `${requirements.prefix}/`;
  return [
    {
      id: 'offsite-expire',
      enabled: true,
      prefix,
      expireDays: requirements.expireDays,
      noncurrentDays: 1,
      abortMultipartDays: 1,
    },
    { id: 'offsite-delete-markers', enabled: true, prefix, deleteMarkers: true },
  ];
}

/**
 * Checks requirements for consistency before anything is read or written.
 * @throws Error naming the setting.
 */
export function checkRequirements(requirements: Requirements): void {
  if (requirements.expireDays <= requirements.retentionDays) {
    throw new Error(
      `expire days (${requirements.expireDays}) must exceed retention days (${requirements.retentionDays}): a backup must stay locked for its whole life`,
    );
  }
}

/** Findings on a bucket's configuration (not on its objects or credentials). */
export function auditConfig(config: BucketConfig, requirements: Requirements): Finding[] {
  const findings: Finding[] = [];
  const add = (severity: Severity, check: string, problem: string, fix: string) =>
    findings.push({ severity, check, problem, fix });
  if (!config.exists) {
    add('critical', 'bucket-missing', 'the bucket does not exist', 'run offsite bucket init');
    return findings;
  }
  const lock = config.objectLock;
  if (!lock.enabled)
    add(
      'critical',
      'object-lock-off',
      'object lock is not enabled: anyone with delete rights can remove backups',
      'create a new bucket with offsite bucket init (object lock cannot always be enabled later) and move the backups there',
    );
  else if (lock.days === undefined)
    add(
      'high',
      'no-default-retention',
      'no default retention: objects are locked only if each upload asks, and some servers ignore that for multipart uploads',
      `run offsite bucket init --retention-days ${requirements.retentionDays}`,
    );
  else {
    if (lock.mode !== 'COMPLIANCE')
      add(
        'high',
        'governance-mode',
        `default retention mode is ${lock.mode ?? 'unset'}: users with s3:BypassGovernanceRetention can delete backups`,
        'run offsite bucket init (COMPLIANCE mode)',
      );
    if (lock.days < requirements.retentionDays)
      add(
        'high',
        'retention-too-short',
        `default retention is ${lock.days} days, less than the required ${requirements.retentionDays}`,
        `run offsite bucket init --retention-days ${requirements.retentionDays}`,
      );
  }
  if (config.versioning !== 'Enabled')
    add(
      'critical',
      'versioning-off',
      `versioning is ${config.versioning}: an overwrite replaces a backup`,
      'enable versioning (object lock requires it): offsite bucket init',
    );
  auditLifecycle(config, requirements, add);
  auditPublicAccess(config, add);
  return findings;
}

function auditLifecycle(
  config: BucketConfig,
  requirements: Requirements,
  add: (s: Severity, c: string, p: string, f: string) => void,
): void {
  // A rule protects the backups only if it applies to all of them: no prefix, or one the backup prefix starts with.
  const covers = (rule: LifecycleSettings) =>
    rule.enabled &&
    (rule.prefix === '' || (requirements.prefix !== '' && `${requirements.prefix}/`.startsWith(rule.prefix)));
  const rules = config.lifecycle.filter(covers);
  const expiries = rules.flatMap((r) => (r.expireDays ? [r.expireDays] : []));
  const retention = Math.max(config.objectLock.days ?? 0, requirements.retentionDays);
  if (expiries.length === 0)
    add(
      'warning',
      'no-expiry',
      'no lifecycle rule expires old backups: storage grows forever',
      `run offsite bucket init --expire-days ${requirements.expireDays}`,
    );
  else if (Math.min(...expiries) <= retention)
    add(
      'high',
      'expiry-not-above-retention',
      `backups expire after ${Math.min(...expiries)} days, not after their ${retention}-day retention`,
      `run offsite bucket init --expire-days ${retention + 5}`,
    );
  if (!rules.some((r) => r.abortMultipartDays))
    add(
      'warning',
      'no-multipart-abort',
      'no rule aborts incomplete multipart uploads: parts of failed backups (which write-only credentials cannot abort) stay and cost money',
      'run offsite bucket init',
    );
}

function auditPublicAccess(config: BucketConfig, add: (s: Severity, c: string, p: string, f: string) => void): void {
  if (!config.publicAccessBlock?.ignorePublicAcls)
    add(
      'high',
      'public-acls-honoured',
      'public ACLs are honoured: an uploader could make a backup public',
      'run offsite bucket init (IgnorePublicAcls)',
    );
  const statements = parsePolicy(config.policy);
  if (statements.some((s) => s.Effect === 'Allow' && principals(s).includes('*'))) {
    add(
      'critical',
      'public-policy',
      'the bucket policy allows everyone (Principal "*")',
      'remove that statement from the bucket policy',
    );
  }
}

/** Findings on what a bucket policy lets the writer do: anything but s3:PutObject is too much. */
export function auditWriterPolicy(policy: string | undefined, writer: string): Finding[] {
  const allowed = parsePolicy(policy)
    .filter((s) => s.Effect === 'Allow' && principals(s).includes(writer))
    .flatMap((s) => actions(s))
    .filter((action) => action !== 's3:PutObject');
  if (allowed.length === 0) return [];
  return [
    {
      severity: 'high',
      check: 'writer-policy-too-broad',
      problem: `the bucket policy also allows the writer ${[...new Set(allowed)].join(', ')}`,
      fix: 'allow the writer only s3:PutObject: offsite policy writer --bucket-policy --principal ARN',
    },
  ];
}

interface Statement {
  Effect?: string;
  Principal?: unknown;
  Action?: unknown;
}

function parsePolicy(policy: string | undefined): Statement[] {
  if (!policy) return [];
  try {
    const document = JSON.parse(policy) as { Statement?: Statement | Statement[] };
    return Array.isArray(document.Statement) ? document.Statement : document.Statement ? [document.Statement] : [];
  } catch {
    return [];
  }
}

const asList = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];
const actions = (s: Statement): string[] => asList(s.Action);
function principals(s: Statement): string[] {
  if (s.Principal === '*') return ['*'];
  return asList((s.Principal as { AWS?: unknown } | undefined)?.AWS);
}
