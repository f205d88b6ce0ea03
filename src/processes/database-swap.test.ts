import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maintenanceUrl } from './database-swap.js';

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
