/**
 * PostgreSQL connection settings for child processes: the password never goes on argv.
 * libpq reads it from PGPASSWORD (or a passfile), so argv carries a URL without it.
 */
export interface ChildConnection {
  /** Safe to show and to pass as `--dbname`: the URL with its password removed. */
  url: string;
  /** Extra environment for the child: PGPASSWORD when the URL carried one. */
  env: Record<string, string>;
}

const PASSWORD_PARAMS = ['password'];
/** Secrets libpq also takes as parameters; never passed on argv. */
const SECRET_PARAMS = ['sslpassword'];

/**
 * Splits a postgres URL into a password-free URL and the child's environment.
 * @throws Error when the text is not a postgres:// or postgresql:// URL.
 */
export function childConnection(databaseUrl: string): ChildConnection {
  const url = parsePostgresUrl(databaseUrl);
  const env: Record<string, string> = {};
  const password = url.password ? decodeURIComponent(url.password) : url.searchParams.get('password');
  if (password) env.PGPASSWORD = password;
  url.password = '';
  for (const name of PASSWORD_PARAMS) url.searchParams.delete(name);
  const sslPassword = url.searchParams.get('sslpassword');
  if (sslPassword) env.PGSSLPASSWORD = sslPassword;
  for (const name of SECRET_PARAMS) url.searchParams.delete(name);
  return { url: url.toString(), env };
}

/**
 * Whether a connection setting carries a password: a URL's `user:password@` or `?password=`, or a libpq
 * conninfo's `password=`. The one check behind every "no passwords in argv or config files" refusal.
 */
export function carriesPassword(target: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    try {
      const url = new URL(target);
      return url.password !== '' || PASSWORD_PARAMS.some((name) => url.searchParams.has(name));
    } catch {
      return /^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(target);
    }
  }
  return /(^|\s)password\s*=/i.test(target);
}

function parsePostgresUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('not a valid URL (expected postgres://user@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`URL scheme "${url.protocol}" is not postgres:// or postgresql://`);
  }
  return url;
}
