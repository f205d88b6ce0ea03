import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drillName, isLoadingName, loadingLockKey, loadingName } from './loading-databases.js';

describe('names of databases loaded by a run', () => {
  it('recognises every name it generates, a long one cut to 63 bytes included', () => {
    for (const name of ['app', 'été_données', 'x'.repeat(63), '"quoted" name'])
      assert.ok(isLoadingName(loadingName(name)), loadingName(name));
    assert.ok(isLoadingName(drillName()));
    assert.ok(isLoadingName(loadingName(drillName())), 'a drill loads under a loading name too');
    assert.ok(Buffer.byteLength(loadingName('x' + '€'.repeat(30))) <= 63);
  });

  it('recognises nothing else: the swept are only those Offsite made', () => {
    for (const name of [
      'app',
      'postgres',
      'app_offsite',
      'app_offsite_abc',
      'app_offsite_ABCDEF',
      'app_offsite_abcdefa',
      'app_offsite_abcdeg',
      '_offsite_abcdef',
      'app_offsite_abcdef_old',
      'app_before_20260101t000000z',
      'offsite_drill_',
      'offsite_drill_0123456789a',
      'offsite_drill_012345678',
      'offsite_drill_012345678g',
      'my_offsite_drill_0123456789',
      'offsite_drill_0123456789\n',
    ])
      assert.equal(isLoadingName(name), false, name);
  });

  it('keys each name apart, the same on every run, within a signed bigint', () => {
    const key = loadingLockKey('app_offsite_abcdef');
    assert.equal(key, loadingLockKey('app_offsite_abcdef'));
    assert.notEqual(key, loadingLockKey('app_offsite_abcdee'));
    assert.ok(key >= -(2n ** 63n) && key < 2n ** 63n);
  });
});
