import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOffsiteError } from '../../errors.js';
import { pgDumpArgs } from '../../processes/pg-dump.js';
import { decideRowSecurity, quoteIdent } from './row-security.js';

const notes = { schema: 'public', name: 'notes' };
const tenants = { schema: 'app', name: 'tenants' };

describe('row-level security before a backup', () => {
  it('lets a role that bypasses it, or that no table hides rows from, back up everything', () => {
    assert.equal(decideRowSecurity({ role: 'backup', bypasses: false, restricted: [] }, 'refuse'), undefined);
    assert.equal(decideRowSecurity({ role: 'postgres', bypasses: true, restricted: [] }, 'refuse'), undefined);
    assert.equal(decideRowSecurity({ role: 'backup', bypasses: false, restricted: [] }, 'visible-rows'), undefined);
  });

  it('refuses with exit 2, naming the tables, the role and both ways out', () => {
    assert.throws(
      () => decideRowSecurity({ role: 'backup', bypasses: false, restricted: [notes, tenants] }, 'refuse'),
      (error: unknown) =>
        isOffsiteError(error) &&
        error.exitCode === 2 &&
        !error.message.includes('\n') &&
        error.message.startsWith(
          'row-level security hides rows of 2 tables public.notes, app.tenants from role backup, which is neither a superuser nor BYPASSRLS',
        ) &&
        error.message.includes('ALTER ROLE "backup" BYPASSRLS') &&
        error.message.includes('set dbRowSecurity (OFFSITE_DB_ROW_SECURITY or --row-security) to visible-rows'),
    );
  });

  it('names at most five tables and counts the rest', () => {
    const many = Array.from({ length: 7 }, (_, i) => ({ schema: 'public', name: `t${i}` }));
    assert.throws(
      () => decideRowSecurity({ role: 'Backup Role', bypasses: false, restricted: many }, 'refuse'),
      (error: unknown) =>
        isOffsiteError(error) &&
        error.message.includes('7 tables public.t0, public.t1, public.t2, public.t3, public.t4 and 2 more') &&
        error.message.includes('ALTER ROLE "Backup Role" BYPASSRLS'),
    );
  });

  it('in visible-rows mode, returns the tables to record', () => {
    assert.deepEqual(decideRowSecurity({ role: 'backup', bypasses: false, restricted: [notes] }, 'visible-rows'), {
      mode: 'visible-rows',
      role: 'backup',
      tables: [notes],
    });
  });

  it('quotes role names as SQL needs them', () => {
    assert.equal(quoteIdent('backup_1'), '"backup_1"');
    assert.equal(quoteIdent('user'), '"user"');
    assert.equal(quoteIdent('Backup'), '"Backup"');
    assert.equal(quoteIdent('a"b'), '"a""b"');
  });

  it('asks pg_dump for the visible rows only when told to', () => {
    const connection = { url: 'postgres://backup@db/app', env: {} };
    assert.equal(pgDumpArgs({ connection, format: 'custom' }).includes('--enable-row-security'), false);
    assert.ok(pgDumpArgs({ connection, format: 'custom', visibleRowsOnly: true }).includes('--enable-row-security'));
  });
});
