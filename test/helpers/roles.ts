/** PostgreSQL login roles for tests that back up as someone other than the stack's superuser. */
import { withClient } from './sample-db.js';
import { stack, uniqueName } from './stack.js';

export interface LoginRole {
  name: string;
  /** `databaseUrl` (the stack's superuser's) as this role, with its password. */
  urlOf(databaseUrl: string): string;
  /** As the superuser: ALTER ROLE with these options (`BYPASSRLS`, `NOBYPASSRLS`, ...). */
  alter(options: string): Promise<void>;
  /** Drops what it owns or was granted in these databases (those still there), then the role. */
  drop(databaseUrls?: readonly string[]): Promise<void>;
}

/** A new login role, neither superuser nor BYPASSRLS, under a unique lowercase name. */
export async function createLoginRole(base: string): Promise<LoginRole> {
  const name = uniqueName(base).toLowerCase();
  const password = `pw-${uniqueName('role')}`;
  const admin = `${stack().pgUrlBase}/postgres`;
  await withClient(admin, (client) => client.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`));
  return {
    name,
    urlOf: (databaseUrl) => {
      const url = new URL(databaseUrl);
      url.username = name;
      url.password = password;
      return url.toString();
    },
    alter: async (options) => {
      await withClient(admin, (client) => client.query(`ALTER ROLE ${name} ${options}`));
    },
    drop: async (databaseUrls = []) => {
      for (const url of databaseUrls)
        await withClient(url, (client) => client.query(`DROP OWNED BY ${name}`)).catch(() => undefined);
      await withClient(admin, (client) => client.query(`DROP ROLE IF EXISTS ${name}`));
    },
  };
}
