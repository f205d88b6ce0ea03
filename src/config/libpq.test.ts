import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOffsiteError } from '../errors.js';
import { resolveLibpqUrl, type LibpqFiles } from './libpq.js';
import { parseWholeNumber } from './whole-number.js';

/** Files in memory; the real ones never count. */
function files(contents: Record<string, string>, modes: Record<string, number> = {}): LibpqFiles {
  return {
    readFile: (path) => contents[path],
    mode: (path) => (path in contents ? (modes[path] ?? 0o100600) : undefined),
    exists: (path) => path === '/var/run/postgresql',
    homeDir: () => '/home/app',
    userName: () => 'osuser',
  };
}
const none = files({});
const parts = (url: string | undefined) => {
  assert.ok(url);
  const u = new URL(url);
  return {
    host: decodeURIComponent(u.hostname),
    port: u.port,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    db: decodeURIComponent(u.pathname.slice(1)),
    query: Object.fromEntries(u.searchParams),
  };
};

describe('resolveLibpqUrl: which variables make a complete database setting', () => {
  it('none of PGHOST, PGHOSTADDR, PGDATABASE, PGSERVICE: no setting, whatever else is set', () => {
    assert.equal(resolveLibpqUrl({}, none), undefined);
    assert.equal(
      resolveLibpqUrl({ PGUSER: 'app', PGPASSWORD: 'pw', PGPORT: '5433', PGSSLMODE: 'require' }, none),
      undefined,
    );
    assert.equal(resolveLibpqUrl({ PGHOST: '' }, none), undefined);
  });

  it('what cf conduit sets: host, port, user, password and database', () => {
    const url = resolveLibpqUrl(
      { PGHOST: '127.0.0.1', PGPORT: '40001', PGUSER: 'u1', PGPASSWORD: 'p@ss:word', PGDATABASE: 'db1' },
      none,
    );
    assert.deepEqual(parts(url), {
      host: '127.0.0.1',
      port: '40001',
      user: 'u1',
      password: 'p@ss:word',
      db: 'db1',
      query: {},
    });
  });

  it("PGDATABASE alone: libpq's defaults (local socket, port 5432, the OS user)", () => {
    assert.deepEqual(parts(resolveLibpqUrl({ PGDATABASE: 'app', USER: 'deploy' }, none)), {
      host: '/var/run/postgresql',
      port: '5432',
      user: 'deploy',
      password: '',
      db: 'app',
      query: {},
    });
    assert.equal(parts(resolveLibpqUrl({ PGHOST: 'db' }, none)).db, 'osuser', 'database defaults to the user');
  });

  it('passes the other libpq variables on as parameters (TLS, application name, timeout)', () => {
    const url = resolveLibpqUrl(
      {
        PGHOST: 'db.example',
        PGSSLMODE: 'verify-full',
        PGSSLROOTCERT: '/etc/ssl/root ca.pem',
        PGAPPNAME: 'nightly backup',
        PGCONNECT_TIMEOUT: '10',
      },
      none,
    );
    assert.deepEqual(parts(url).query, {
      sslmode: 'verify-full',
      sslrootcert: '/etc/ssl/root ca.pem',
      application_name: 'nightly backup',
      connect_timeout: '10',
    });
  });

  it('a service from PGSERVICEFILE: its values win over the environment, the environment fills the rest', () => {
    const env = { PGSERVICE: 'prod', PGSERVICEFILE: '/cfg/services', PGHOST: 'ignored', PGPORT: '6000' };
    const service =
      '# services\n[staging]\nhost=stage\n\n[prod]\nhost = prod-db\ndbname=app\nuser=backup\npassword=s3cret\nsslmode=require\n';
    assert.deepEqual(parts(resolveLibpqUrl(env, files({ '/cfg/services': service }))), {
      host: 'prod-db',
      port: '6000',
      user: 'backup',
      password: 's3cret',
      db: 'app',
      query: { sslmode: 'require' },
    });
  });

  it('a service from ~/.pg_service.conf, else the system file', () => {
    const system = '[prod]\nhost=sys-db\n';
    assert.equal(
      parts(resolveLibpqUrl({ PGSERVICE: 'prod' }, files({ '/etc/postgresql-common/pg_service.conf': system }))).host,
      'sys-db',
    );
    const both = files({ '/home/app/.pg_service.conf': '[prod]\nhost=user-db\n', '/etc/pg_service.conf': system });
    assert.equal(parts(resolveLibpqUrl({ PGSERVICE: 'prod' }, both)).host, 'user-db');
  });

  it('an unknown service is a configuration error (exit 2) naming where it looked', () => {
    assert.throws(
      () =>
        resolveLibpqUrl(
          { PGSERVICE: 'nope', PGSERVICEFILE: '/cfg/services' },
          files({ '/cfg/services': '[prod]\nhost=x\n' }),
        ),
      (error: unknown) =>
        isOffsiteError(error) && error.exitCode === 2 && /service "nope".*\/cfg\/services/.test(error.message),
    );
  });

  it('the password from the password file (PGPASSFILE, else ~/.pgpass) when none is set, first match wins', () => {
    const pgpass = '# comment\nother:*:*:*:wrong\ndb:5432:app:u1:fr\\:om\\\\file\n*:*:*:*:fallback\n';
    const env = { PGHOST: 'db', PGDATABASE: 'app', PGUSER: 'u1' };
    assert.equal(parts(resolveLibpqUrl(env, files({ '/home/app/.pgpass': pgpass }))).password, 'fr:om\\file');
    assert.equal(
      parts(resolveLibpqUrl({ ...env, PGPASSFILE: '/secrets/pass' }, files({ '/secrets/pass': pgpass }))).password,
      'fr:om\\file',
    );
    assert.equal(
      parts(resolveLibpqUrl({ ...env, PGPORT: '6000' }, files({ '/home/app/.pgpass': pgpass }))).password,
      'fallback',
    );
    assert.equal(
      parts(resolveLibpqUrl({ ...env, PGPASSWORD: 'env' }, files({ '/home/app/.pgpass': pgpass }))).password,
      'env',
      'PGPASSWORD wins over the file',
    );
  });

  it('a password file others can read is refused, without showing its contents', () => {
    assert.throws(
      () =>
        resolveLibpqUrl(
          { PGHOST: 'db' },
          files({ '/home/app/.pgpass': '*:*:*:*:topsecret\n' }, { '/home/app/.pgpass': 0o100644 }),
        ),
      (error: unknown) =>
        isOffsiteError(error) &&
        /chmod 600 \/home\/app\/\.pgpass/.test(error.message) &&
        !error.message.includes('topsecret'),
    );
  });

  it('socket directories and IPv6 addresses survive the URL', () => {
    assert.equal(parts(resolveLibpqUrl({ PGHOST: '/tmp/pg sock' }, none)).host, '/tmp/pg sock');
    assert.equal(new URL(resolveLibpqUrl({ PGHOST: '::1' }, none) ?? '').hostname, '[::1]');
  });
});

describe('parseWholeNumber: one parser, one wording', () => {
  it('accepts digits within the bounds', () => {
    assert.equal(parseWholeNumber(' 42 ', '--sample'), 42);
    assert.equal(parseWholeNumber('5', '--part-size-mib', { min: 5, max: 5120 }), 5);
    assert.equal(parseWholeNumber(7, 'n'), 7);
  });

  it('says what is expected and what it got, as a usage or configuration error (exit 2)', () => {
    const cases: [unknown, string, { min?: number; max?: number }, string][] = [
      ['x', '--sample', {}, '--sample must be a positive whole number (got "x")'],
      ['0', '--expire-days', {}, '--expire-days must be a positive whole number (got "0")'],
      ['1.5', 'n', {}, 'n must be a positive whole number (got "1.5")'],
      ['-1', 'n', {}, 'n must be a positive whole number (got "-1")'],
      [
        '6000',
        '--part-size-mib',
        { min: 5, max: 5120 },
        '--part-size-mib must be a whole number from 5 to 5120 (got "6000")',
      ],
      ['1', 'n', { min: 2 }, 'n must be a whole number of at least 2 (got "1")'],
    ];
    for (const [raw, label, rule, message] of cases)
      assert.throws(
        () => parseWholeNumber(raw, label, rule),
        (error: unknown) => isOffsiteError(error) && error.exitCode === 2 && error.message === message,
      );
  });
});
