import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSettings } from '../config/load.js';
import { isOffsiteError } from '../errors.js';
import { databaseUrlOf } from './options.js';

const settingsFrom = (env: NodeJS.ProcessEnv) => loadSettings({ flags: {}, env, cwd: '/nonexistent' });

describe('databaseUrlOf: the URL setting, else libpq', () => {
  it('DATABASE_URL wins over the PG* variables', () => {
    const env = { DATABASE_URL: 'postgres://app@url-host/app', PGHOST: 'pg-host', PGDATABASE: 'other' };
    assert.equal(databaseUrlOf(settingsFrom(env), {}, env), 'postgres://app@url-host/app');
  });

  it('without DATABASE_URL or OFFSITE_TARGET_URL, the PG* variables are the database, for backup and restore alike', () => {
    const env = { PGHOST: 'pg-host', PGPORT: '6432', PGUSER: 'u', PGPASSWORD: 'pw', PGDATABASE: 'db' };
    for (const name of ['databaseUrl', 'targetUrl'] as const)
      assert.equal(databaseUrlOf(settingsFrom(env), {}, env, name), 'postgresql://u:pw@pg-host:6432/db');
  });

  it('neither: a one-line configuration error (exit 2) naming both ways', () => {
    const expected = {
      databaseUrl: /^no database: set DATABASE_URL \(or --database-url\), or libpq's PGHOST\/PGDATABASE .*PGSERVICE$/,
      targetUrl:
        /^no target database: set OFFSITE_TARGET_URL \(or --target-url\), or libpq's PGHOST\/PGDATABASE .*PGSERVICE$/,
    };
    for (const name of ['databaseUrl', 'targetUrl'] as const)
      assert.throws(
        () =>
          databaseUrlOf(settingsFrom({ PGUSER: 'u', PGPASSWORD: 'pw' }), {}, { PGUSER: 'u', PGPASSWORD: 'pw' }, name),
        (error: unknown) =>
          isOffsiteError(error) &&
          error.exitCode === 2 &&
          expected[name].test(error.message) &&
          !error.message.includes('pw') &&
          !error.message.includes('\n'),
      );
  });
});

describe('settings defaults: declared once in the table, filled in by the loader', () => {
  it('unset settings take their declared default; a given value wins', () => {
    const settings = settingsFrom({});
    assert.deepEqual(
      [settings.retentionDays, settings.lockMode, settings.filesConcurrency, settings.compression, settings.region],
      [35, 'COMPLIANCE', 8, 'zstd', 'us-east-1'],
    );
    assert.equal(settingsFrom({ OFFSITE_RETENTION_DAYS: '7' }).retentionDays, 7);
  });
});
