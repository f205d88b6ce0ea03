import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { isOffsiteError } from '../errors.js';
import { loadSettings, type LoadInput } from './load.js';
import { Secret } from './secret.js';

const dir = mkdtempSync(join(tmpdir(), 'offsite-config-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const load = (input: Partial<LoadInput>) => loadSettings({ flags: {}, env: {}, cwd: dir, ...input });
const configErrorMatching = (pattern: RegExp) => (error: unknown) =>
  isOffsiteError(error) && error.exitCode === 2 && pattern.test(error.message);

describe('loadSettings', () => {
  it('lets flags beat the environment and the environment beat the file', () => {
    const configFile = file('precedence.yaml', 'bucket: from-file\nprefix: file-prefix\nregion: file-region\n');
    const settings = load({
      configFile,
      env: { OFFSITE_BUCKET: 'from-env', AWS_REGION: 'env-region' },
      flags: { bucket: 'from-flag' },
    });
    assert.equal(settings.bucket, 'from-flag');
    assert.equal(settings.region, 'env-region');
    assert.equal(settings.prefix, 'file-prefix');
  });

  it('overlays the chosen environment section on the top level', () => {
    const configFile = file(
      'envs.yaml',
      'bucket: shared\nenvironments:\n  staging:\n    prefix: s\n  production:\n    prefix: p\n    retentionDays: 40\n',
    );
    const settings = load({ configFile, env: { OFFSITE_ENVIRONMENT: 'production' } });
    assert.deepEqual(
      [settings.bucket, settings.prefix, settings.retentionDays, settings.environment],
      ['shared', 'p', 40, 'production'],
    );
  });

  it('uses the only environment of a file without being told', () => {
    const configFile = file('one.yaml', 'environments:\n  production:\n    bucket: b\n');
    assert.equal(load({ configFile }).environment, 'production');
  });

  it('names the environments a file has when the chosen one is missing', () => {
    const configFile = file('missing.yaml', 'environments:\n  staging: {}\n  production: {}\n');
    assert.throws(
      () => load({ configFile, env: { OFFSITE_ENVIRONMENT: 'prod' } }),
      configErrorMatching(/environment "prod" is not in .* \(it has: staging, production\)/),
    );
  });

  it('refuses secrets in the config file, naming the variable to use', () => {
    const configFile = file('secret.yaml', 'secretAccessKey: abc\n');
    assert.throws(
      () => load({ configFile }),
      configErrorMatching(/secretAccessKey is a secret .* set AWS_SECRET_ACCESS_KEY/),
    );
  });

  it('refuses a database URL with a password in the config file', () => {
    const configFile = file('url.yaml', 'databaseUrl: postgres://app:hunter2@db/app\n');
    assert.throws(
      () => load({ configFile }),
      (error: unknown) =>
        configErrorMatching(/databaseUrl carries a password/)(error) && !(error as Error).message.includes('hunter2'),
    );
  });

  it('refuses unknown settings and malformed YAML', () => {
    assert.throws(
      () => load({ configFile: file('typo.yaml', 'buckt: b\n') }),
      configErrorMatching(/unknown setting "buckt"/),
    );
    // Found by npm run fuzz: these found Object's own members, and `__proto__` crashed with a TypeError.
    for (const name of ['__proto__', 'constructor', 'toString'])
      assert.throws(
        () => load({ configFile: file('proto.yaml', `${name}: x\n`) }),
        configErrorMatching(new RegExp(`unknown setting "${name}"`)),
      );
    assert.throws(
      () =>
        load({
          configFile: file('env-proto.yaml', 'environments: { production: {} }\n'),
          env: { OFFSITE_ENVIRONMENT: 'constructor' },
        }),
      configErrorMatching(/environment "constructor" is not in/),
    );
    assert.throws(
      () => load({ configFile: file('bad.yaml', 'bucket: [\n') }),
      configErrorMatching(/is not valid YAML/),
    );
    assert.throws(
      () => load({ configFile: join(dir, 'absent.yaml') }),
      configErrorMatching(/cannot read config file .*absent\.yaml: ENOENT/),
    );
  });

  // Found by npm run fuzz: String() of a mapping without prototype threw a TypeError, JSON of a YAML alias to itself too.
  it('refuses lists of anything but text', () => {
    for (const [name, yaml] of [
      ['nested.yaml', 'ageRecipients: [age1a, { __proto__: null }]\n'],
      ['inner-list.yaml', 'ageRecipients: [[age1a, { __proto__: null }]]\n'],
      ['alias.yaml', 'ageRecipients: &a [*a]\n'],
    ] as const)
      assert.throws(
        () => load({ configFile: file(name, yaml) }),
        configErrorMatching(/^ageRecipients from ageRecipients in the config file must be a list of text/),
        name,
      );
  });

  it('converts booleans, integers, lists and choices, naming the setting and its source on error', () => {
    const settings = load({
      env: {
        OFFSITE_S3_FORCE_PATH_STYLE: 'true',
        OFFSITE_RETENTION_DAYS: '35',
        OFFSITE_AGE_RECIPIENTS: 'age1a, age1b,',
      },
    });
    assert.deepEqual(
      [settings.s3ForcePathStyle, settings.retentionDays, settings.ageRecipients],
      [true, 35, ['age1a', 'age1b']],
    );
    assert.throws(
      () => load({ env: { OFFSITE_S3_FORCE_PATH_STYLE: 'maybe' } }),
      configErrorMatching(/s3ForcePathStyle from OFFSITE_S3_FORCE_PATH_STYLE must be true or false/),
    );
    assert.throws(
      () => load({ env: { OFFSITE_RETENTION_DAYS: '-3' } }),
      configErrorMatching(/retentionDays from OFFSITE_RETENTION_DAYS must be a positive whole number/),
    );
    assert.throws(
      () => load({ flags: { compression: 'lz4' } }),
      configErrorMatching(/compression from --compression must be one of zstd, gzip, none/),
    );
  });

  it('keeps secrets out of logs, JSON and string templates', () => {
    const settings = load({
      env: { AWS_SECRET_ACCESS_KEY: 'very-secret-value', OFFSITE_ENCRYPTION_PASSWORD: 'pw-123456' },
    });
    const secret = settings.secretAccessKey as Secret;
    assert.equal(secret.reveal(), 'very-secret-value');
    for (const shown of [inspect(settings), JSON.stringify(settings), String(secret)]) {
      assert.equal(shown.includes('very-secret-value') || shown.includes('pw-123456'), false, shown);
    }
  });

  it('ignores empty environment variables', () => {
    assert.equal(load({ env: { OFFSITE_BUCKET: '  ' } }).bucket, undefined);
  });
});
