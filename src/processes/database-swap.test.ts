import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maintenanceUrl, splitSettingList } from './database-swap.js';

describe('maintenanceUrl', () => {
  it("keeps the target URL's database when it is not one being renamed", () => {
    assert.equal(
      maintenanceUrl('postgres://u@h:5432/admin?sslmode=require', ['app']),
      'postgres://u@h:5432/admin?sslmode=require',
    );
  });

  it('connects to postgres when the URL names a database being renamed, or none', () => {
    assert.equal(
      maintenanceUrl('postgres://u@h:5432/app?sslmode=require', ['app']),
      'postgres://u@h:5432/postgres?sslmode=require',
    );
    assert.equal(maintenanceUrl('postgres://u@h:5432', ['app']), 'postgres://u@h:5432/postgres');
  });
});

describe('splitSettingList', () => {
  it('reads a stored list as PostgreSQL does: quoted elements with "" for a quote, spaces around commas', () => {
    assert.deepEqual(splitSettingList('"$user", public'), ['$user', 'public']);
    assert.deepEqual(splitSettingList('a,"b ""c"", d",e'), ['a', 'b "c", d', 'e']);
    assert.deepEqual(splitSettingList('one'), ['one']);
  });

  it('keeps SQL in a stored value inside one element, to be written back as a literal', () => {
    assert.deepEqual(splitSettingList('a;DROP/**/DATABASE/**/x;--'), ['a;DROP/**/DATABASE/**/x;--']);
  });
});
