/** The restore's target: checked before anything is written, created when asked, dropped again if the restore fails. */
import { configError, usageError } from '../../errors.js';
import { createDatabase, dropDatabase, readTarget, type TargetFacts } from '../../processes/target-db.js';
import type { PgRestoreOptions } from '../../processes/pg-restore.js';

export interface RestoreMode extends PgRestoreOptions {
  truncateFirst: boolean;
}

export interface PreparedTarget {
  url: string;
  facts: TargetFacts;
  /** Runs the restore; a database this restore created is dropped again when it fails. */
  run<T>(restore: () => Promise<T>): Promise<T>;
}

export async function prepareTarget(
  options: { targetUrl: string; createDatabase?: string },
  mode: RestoreMode,
  format: 'custom' | 'plain',
): Promise<PreparedTarget> {
  if (format === 'plain' && (mode.schemaOnly || mode.dataOnly || mode.tables.length > 0 || mode.clean)) {
    throw usageError(
      'this backup is plain SQL, which restores only whole into an empty database: --schema-only, --data-only, --table and --clean need a custom-format backup',
    );
  }
  if (options.createDatabase) {
    await readTarget(options.targetUrl);
    const url = await createDatabase(options.targetUrl, options.createDatabase);
    const name = options.createDatabase;
    return {
      url,
      facts: await readTarget(url),
      run: async (restore) => {
        try {
          return await restore();
        } catch (error) {
          await dropDatabase(options.targetUrl, name).catch(() => undefined);
          throw error;
        }
      },
    };
  }
  const facts = await readTarget(options.targetUrl);
  if (!mode.dataOnly && !mode.clean && facts.tables.length > 0) {
    throw configError(
      `target database ${facts.database} already has ${facts.tables.length} tables (${facts.tables.slice(0, 3).join(', ')}${facts.tables.length > 3 ? ', ...' : ''}): restore into an empty database (--create-database NAME), replace them with --clean, or load only rows with --data-only --truncate-first`,
    );
  }
  return { url: options.targetUrl, facts, run: (restore) => restore() };
}
