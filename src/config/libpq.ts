/**
 * libpq's conventions as a database setting: when no URL is configured, the PG* environment
 * variables, the service file (PGSERVICE) and the password file (PGPASSFILE, ~/.pgpass) say where
 * the database is, exactly as they would for psql. They are resolved here, once, into the URL a
 * DATABASE_URL would have held, so that the node-postgres connections and the pg_dump/pg_restore/psql
 * children reach the same database with the same parameters (node-postgres reads neither service
 * nor password files itself). The password stays inside the returned URL, which is never shown:
 * children get it through PGPASSWORD (see processes/connection.ts), never on argv.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { configError } from '../errors.js';

/** libpq's environment variables and the connection keyword each one sets. */
const LIBPQ_ENV: Readonly<Record<string, string>> = {
  PGHOST: 'host',
  PGHOSTADDR: 'hostaddr',
  PGPORT: 'port',
  PGDATABASE: 'dbname',
  PGUSER: 'user',
  PGPASSWORD: 'password',
  PGOPTIONS: 'options',
  PGAPPNAME: 'application_name',
  PGSSLMODE: 'sslmode',
  PGSSLNEGOTIATION: 'sslnegotiation',
  PGSSLCOMPRESSION: 'sslcompression',
  PGSSLCERT: 'sslcert',
  PGSSLKEY: 'sslkey',
  PGSSLCERTMODE: 'sslcertmode',
  PGSSLROOTCERT: 'sslrootcert',
  PGSSLCRL: 'sslcrl',
  PGSSLCRLDIR: 'sslcrldir',
  PGSSLSNI: 'sslsni',
  PGREQUIREPEER: 'requirepeer',
  PGREQUIREAUTH: 'require_auth',
  PGSSLMINPROTOCOLVERSION: 'ssl_min_protocol_version',
  PGSSLMAXPROTOCOLVERSION: 'ssl_max_protocol_version',
  PGGSSENCMODE: 'gssencmode',
  PGKRBSRVNAME: 'krbsrvname',
  PGGSSLIB: 'gsslib',
  PGGSSDELEGATION: 'gssdelegation',
  PGCONNECT_TIMEOUT: 'connect_timeout',
  PGCLIENTENCODING: 'client_encoding',
  PGTARGETSESSIONATTRS: 'target_session_attrs',
  PGLOADBALANCEHOSTS: 'load_balance_hosts',
};

/** Any one of these (set and not empty) makes the libpq environment a complete database setting. */
const LIBPQ_COMPLETE = ['PGHOST', 'PGHOSTADDR', 'PGDATABASE', 'PGSERVICE'] as const;

/** Keywords that go into the URL's authority and path rather than its query. */
const IN_URL_BODY = new Set(['host', 'port', 'dbname', 'user', 'password']);
/** Keywords that only point at other files, consumed here. */
const CONSUMED = new Set(['service', 'passfile']);

export interface LibpqFiles {
  readFile(path: string): string | undefined;
  /** Permission bits, for the password file (libpq ignores one that others can read). */
  mode(path: string): number | undefined;
  exists(path: string): boolean;
  homeDir(): string;
  userName(): string;
}

const realFiles: LibpqFiles = {
  readFile: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  mode: (path) => {
    try {
      return statSync(path).mode;
    } catch {
      return undefined;
    }
  },
  exists: existsSync,
  homeDir: homedir,
  userName: () => userInfo().username,
};

/**
 * The URL (password included) that libpq's environment, service file and password file describe;
 * undefined when none of {@link LIBPQ_COMPLETE} is set.
 * @throws OffsiteError (config) when PGSERVICE names a service no service file defines, or the password
 * file is readable by other users. Messages never carry a value read from the files.
 */
export function resolveLibpqUrl(env: NodeJS.ProcessEnv, files: LibpqFiles = realFiles): string | undefined {
  const set = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  if (!LIBPQ_COMPLETE.some((name) => set(name) !== undefined)) return undefined;
  const home = set('HOME') ?? files.homeDir();
  const params = new Map<string, string>();
  // libpq's order: the service file first, then the environment for what it left unset, then defaults.
  const service = set('PGSERVICE');
  if (service !== undefined)
    for (const [key, value] of serviceParams(service, env, home, files)) params.set(key, value);
  for (const [variable, keyword] of Object.entries(LIBPQ_ENV)) {
    const value = set(variable);
    if (value !== undefined && !params.has(keyword)) params.set(keyword, value);
  }
  const user = params.get('user') ?? set('USER') ?? files.userName();
  const dbname = params.get('dbname') ?? user;
  const port = params.get('port') ?? '5432';
  const host =
    params.get('host') ??
    params.get('hostaddr') ??
    (files.exists('/var/run/postgresql') ? '/var/run/postgresql' : '/tmp');
  const password =
    params.get('password') ??
    passwordFromFile(params.get('passfile') ?? set('PGPASSFILE') ?? join(home, '.pgpass'), {
      host,
      port,
      dbname,
      user,
      files,
    });
  const query = [...params]
    .filter(([key]) => !IN_URL_BODY.has(key) && !CONSUMED.has(key))
    .map(([key, value]) => `${key}=${encodeURIComponent(value)}`);
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : encodeURIComponent(host);
  const userInfoPart = `${encodeURIComponent(user)}${password === undefined ? '' : `:${encodeURIComponent(password)}`}`;
  return `postgresql://${userInfoPart}@${hostPart}:${port}/${encodeURIComponent(dbname)}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}

/** The `[name]` section of the user's service file, else of the system's (`key=value` lines). */
function serviceParams(name: string, env: NodeJS.ProcessEnv, home: string, files: LibpqFiles): Map<string, string> {
  const candidates = [
    env.PGSERVICEFILE || join(home, '.pg_service.conf'),
    ...(env.PGSYSCONFDIR
      ? [join(env.PGSYSCONFDIR, 'pg_service.conf')]
      : ['/etc/postgresql-common/pg_service.conf', '/etc/pg_service.conf']),
  ];
  for (const path of candidates) {
    const text = files.readFile(path);
    if (text === undefined) continue;
    const section = parseServiceFile(text).get(name);
    if (section) return section;
  }
  throw configError(
    `PGSERVICE names service "${name}", which no service file defines (looked in ${candidates.join(', ')}; set PGSERVICEFILE)`,
  );
}

function parseServiceFile(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      current = new Map();
      sections.set(header[1].trim(), current);
      continue;
    }
    const equals = line.indexOf('=');
    if (current && equals > 0) current.set(line.slice(0, equals).trim(), line.slice(equals + 1).trim());
  }
  return sections;
}

/** The password of the first matching `host:port:database:user:password` line, as libpq picks it. */
function passwordFromFile(
  path: string,
  want: { host: string; port: string; dbname: string; user: string; files: LibpqFiles },
): string | undefined {
  const text = want.files.readFile(path);
  if (text === undefined) return undefined;
  const mode = want.files.mode(path);
  if (mode !== undefined && (mode & 0o077) !== 0)
    throw configError(`password file ${path} is readable by other users (libpq ignores it); run chmod 600 ${path}`);
  const host = want.host.startsWith('/') ? 'localhost' : want.host;
  const wanted = [host, want.port, want.dbname, want.user];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = splitPassLine(line);
    if (fields.length < 5) continue;
    if (wanted.every((value, i) => fields[i] === '*' || fields[i] === value)) return fields.slice(4).join(':');
  }
  return undefined;
}

/** Fields separated by `:`, where `\:` and `\\` stand for themselves. */
function splitPassLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  for (const [, escaped, plain] of line.matchAll(/\\(.)|([^\\])/gsu)) {
    if (plain === ':' && fields.length < 4) {
      fields.push(field);
      field = '';
    } else field += escaped ?? plain ?? '';
  }
  fields.push(field);
  return fields;
}
