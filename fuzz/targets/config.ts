/**
 * offsite.yaml: the settings (top level or per environment) and the scheduler's section, then what
 * the CLI derives from them before any work (retention, encryption, max age, thresholds, signers…).
 * Any file gives settings or a one-line configuration error of exit code 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import {
  dropThresholdsOf,
  encryptSpecOf,
  environmentOf,
  maxAgeOf,
  parallelRestoreOf,
  partSizeOf,
  prefixOf,
  retentionDaysOf,
  s3SettingsOf,
  sourceS3SettingsOf,
  trustOf,
} from '../../src/cli/options.js';
import { loadSettings } from '../../src/config/load.js';
import { loadScheduleConfig } from '../../src/config/schedule.js';
import type { Settings } from '../../src/config/settings.js';
import { isOffsiteError } from '../../src/errors.js';
import { defineTarget, OracleViolation } from '../engine.js';
import { mutatedJson, mutatedText } from '../mutate.js';
import { scratchDir, utf8, workerKeys } from '../samples.js';

/** An OffsiteError of exit code 2 with a one-line message is a rejection; anything else a crash. */
function configRejection(error: unknown): 'rejected' {
  if (!isOffsiteError(error)) throw error;
  if (error.exitCode !== 2)
    throw new OracleViolation(`a configuration error of exit code ${error.exitCode}: ${error.message}`);
  if (error.message.includes('\n') || error.message === '')
    throw new OracleViolation(`the configuration error is not one line: ${JSON.stringify(error.message)}`);
  return 'rejected';
}

const NOW = new Date('2026-11-26T10:00:00Z');

/** What commands derive from the settings before any work; each may refuse them. */
const DERIVED: ((settings: Settings) => unknown)[] = [
  environmentOf,
  prefixOf,
  s3SettingsOf,
  sourceS3SettingsOf,
  encryptSpecOf,
  dropThresholdsOf,
  trustOf,
  (settings) => retentionDaysOf(settings, NOW),
  partSizeOf,
  maxAgeOf,
  (settings) => parallelRestoreOf(settings, 2),
];

async function configSamples(): Promise<object[]> {
  const keys = await workerKeys();
  const schedule = {
    listen: '127.0.0.1:9464',
    stateDir: '/var/lib/offsite',
    shutdownGrace: '30s',
    retry: { attempts: 3, initialDelay: '30s', maxDelay: '5m', deadline: '30m' },
    alarms: { webhookUrlEnv: 'OFFSITE_WEBHOOK_URL', webhookFormat: 'slack', timeout: '10s' },
    jobs: [
      {
        name: 'production-db',
        kind: 'db',
        environment: 'production',
        cron: '0 * * * *',
        alarms: { pingUrlEnv: 'OFFSITE_PING' },
      },
      {
        name: 'staging-db',
        kind: 'db',
        environment: 'staging',
        cron: '30 */4 * * *',
        envFrom: { PGPASSWORD: 'STAGING_PGPASSWORD' },
      },
      {
        name: 'drill',
        kind: 'drill',
        environment: 'production',
        cron: '0 0 5 * * 1-5',
        timezone: 'Europe/Paris',
        retry: { attempts: 1 },
      },
    ],
  };
  return [
    {
      bucket: 'acme-offsite-backups',
      ageRecipients: [keys.age.recipient],
      trustedSigners: [keys.signerPublic],
      environments: {
        staging: { retentionDays: 14, prefix: 'acme/db' },
        production: {
          retentionDays: 35,
          databaseUrl: 'postgres://offsite@db.prod.internal/app',
          maxAge: ['db=2h', 'files=26h'],
        },
      },
      schedule,
    },
    {
      bucket: 'b',
      environment: 'production',
      s3Endpoint: 'http://127.0.0.1:7480',
      s3ForcePathStyle: true,
      encryption: 'age',
      ageRecipients: [keys.age.recipient],
      compression: 'zstd',
      dumpFormat: 'custom',
      lockMode: 'GOVERNANCE',
      retentionDays: 7,
      dbLayout: 'chunked',
      dbDropFraction: '0.5',
      dbDropMinRows: 1000,
      dbDropTables: ['public.users=0.1'],
      maxAge: ['2h'],
      partSizeMiB: 16,
      restoreJobs: 4,
      serveRefresh: '5m',
      sourceBucket: 'assets',
      filesConcurrency: 8,
    },
  ];
}

export const configTarget = defineTarget(
  'offsite.yaml',
  'the configuration file: settings, environments and the schedule section, and what commands derive from them',
  async () => {
    const scratch = scratchDir();
    const path = join(scratch.path, 'offsite.yaml');
    const samples = await configSamples();
    const json = samples.map((sample) => utf8(JSON.stringify(sample)));
    const yaml = samples.map((sample) => stringify(sample));
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
    );
    const randomDocument = fc
      .dictionary(
        fc.constantFrom(
          'bucket',
          'retentionDays',
          'environments',
          'ageRecipients',
          'compression',
          'unknownKey',
          'secretAccessKey',
          'schedule',
          'maxAge',
        ),
        value,
      )
      .map((d) => JSON.stringify(d));
    return {
      arbitrary: fc.oneof(
        {
          weight: 4,
          // Nesting 100,000 deep costs the YAML parser seconds a case: 1,000 is as telling.
          arbitrary: mutatedJson(json, { depths: [10, 1000] }).map((bytes) => Buffer.from(bytes).toString('utf8')),
        },
        { weight: 4, arbitrary: mutatedText(yaml) },
        { weight: 1, arbitrary: randomDocument },
        { weight: 1, arbitrary: fc.string() },
      ),
      check: (text) => {
        writeFileSync(path, text);
        const input = { configFile: path, env: { OFFSITE_ENVIRONMENT: 'production' }, cwd: scratch.path };
        try {
          loadScheduleConfig(input);
        } catch (error) {
          configRejection(error);
        }
        let settings: Settings;
        try {
          settings = loadSettings({ flags: {}, ...input });
        } catch (error) {
          return configRejection(error);
        }
        for (const derive of DERIVED) {
          try {
            derive(settings);
          } catch (error) {
            configRejection(error);
          }
        }
        return 'accepted';
      },
      dispose: scratch.remove,
    };
  },
);
