import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childConnection, carriesPassword } from './connection.js';

describe('childConnection', () => {
  it('moves an inline password into PGPASSWORD', () => {
    const connection = childConnection('postgres://app:s%40cret@db.example:5433/app?sslmode=require');
    assert.equal(connection.url, 'postgres://app@db.example:5433/app?sslmode=require');
    assert.deepEqual(connection.env, { PGPASSWORD: 's@cret' });
  });

  it('moves a password parameter into PGPASSWORD', () => {
    const connection = childConnection('postgresql://app@db/app?password=pw&sslmode=verify-full');
    assert.equal(connection.url, 'postgresql://app@db/app?sslmode=verify-full');
    assert.deepEqual(connection.env, { PGPASSWORD: 'pw' });
  });

  it('leaves a passwordless URL alone', () => {
    assert.deepEqual(childConnection('postgres://app@db/app'), { url: 'postgres://app@db/app', env: {} });
    assert.equal(carriesPassword('postgres://app@db/app'), false);
    assert.equal(carriesPassword('postgres://app:x@db/app'), true);
    assert.equal(carriesPassword('postgres://app@db/app?password=x'), true);
    assert.equal(carriesPassword('host=db user=app password=x'), true);
    assert.equal(carriesPassword('host=db user=app'), false);
    assert.equal(carriesPassword('postgres://app:x@[bad/app'), true, 'an unparseable URL is still read for a password');
  });

  it('refuses what is not a postgres URL without echoing it', () => {
    assert.throws(
      () => childConnection('mysql://u:secretpw@h/d'),
      (error: Error) => /not postgres:\/\//.test(error.message) && !error.message.includes('secretpw'),
    );
    assert.throws(() => childConnection('host=db password=x'), /not a valid URL/);
  });

  it('moves an sslpassword parameter into PGSSLPASSWORD', () => {
    assert.deepEqual(childConnection('postgres://app@db/app?sslpassword=k3y&sslmode=require'), {
      url: 'postgres://app@db/app?sslmode=require',
      env: { PGSSLPASSWORD: 'k3y' },
    });
  });
});
