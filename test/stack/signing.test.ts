/**
 * The forged-backup attack: someone with the writer's credentials and the public recipient uploads
 * a well-formed, newer backup. With trusted signers configured, restore, verify and drill pass it
 * over and restore the newest backup the writer's signing key made.
 */
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { runCli, summaryOf } from '../helpers/cli.js';
import { dbBackupFixture, readerEnv as readerEnvOf } from '../helpers/fixture.js';
import { tableChecksums, withClient } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

describe('signed manifests against a forged newer backup', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('signed', { sourceBytes: 300_000 });
  let readerEnv: Record<string, string>;
  let signingKey: string;
  let publicKey: string;

  before(async () => {
    signingKey = join(fixture.dir.path, 'signing.pem');
    const generated = await runCli(['keys', 'generate', '--signing', '--output', signingKey, '--json'], { env: {} });
    assert.equal(generated.code, 0, generated.stderr);
    publicKey = String(summaryOf(generated).publicKey);
    readerEnv = readerEnvOf(fixture.env, {
      DATABASE_URL: '',
      OFFSITE_AGE_IDENTITY_FILE: fixture.identity.file,
      OFFSITE_TRUSTED_SIGNERS: publicKey,
    });
  });

  it('restores the newest signed backup, passing over newer unsigned and foreign-signed ones', async () => {
    const genuine = await runCli(['backup', 'db', '--json'], {
      env: { ...fixture.env, OFFSITE_SIGNING_KEY_FILE: signingKey },
    });
    assert.equal(genuine.code, 0, genuine.stderr);
    const genuineState = await tableChecksums(fixture.sourceUrl);

    // The attacker's database content, backed up with the writer's credentials and the public recipient.
    await withClient(fixture.sourceUrl, (client) => client.query("DELETE FROM public.audit_log WHERE action < 'm'"));
    const unsigned = await runCli(['backup', 'db', '--json'], { env: fixture.env });
    assert.equal(unsigned.code, 0, unsigned.stderr);
    const otherKey = join(fixture.dir.path, 'attacker.pem');
    assert.equal((await runCli(['keys', 'generate', '--signing', '--output', otherKey], { env: {} })).code, 0);
    const foreign = await runCli(['backup', 'db', '--json'], {
      env: { ...fixture.env, OFFSITE_SIGNING_KEY_FILE: otherKey },
    });
    assert.equal(foreign.code, 0, foreign.stderr);

    const target = `${stack().pgUrlBase}/${uniqueName('signed_restore')}`.split('/').pop() ?? '';
    fixture.databases.adopt(target);
    const restored = await runCli(['restore', 'db', '--create-database', target, '--json'], {
      env: { ...readerEnv, OFFSITE_TARGET_URL: fixture.sourceUrl },
    });
    assert.equal(restored.code, 0, restored.stderr);
    const summary = summaryOf(restored);
    assert.equal(summary.id, summaryOf(genuine).id);
    assert.match(String(summary.signedBy), /^ed25519:[0-9a-f]{16}$/);
    const skipped = (summary.skipped as { id: string; reason: string }[]).map((s) => [s.id, s.reason]);
    assert.deepEqual(skipped.map(([id]) => id).sort(), [summaryOf(unsigned).id, summaryOf(foreign).id].sort());
    assert.ok(
      skipped.every(([, reason]) => /^not trusted: /.test(reason ?? '')),
      JSON.stringify(skipped),
    );
    assert.deepEqual(await tableChecksums(`${stack().pgUrlBase}/${target}`), genuineState);

    const verify = await runCli(['verify', '--all', '--json'], { env: readerEnv });
    assert.equal(verify.code, 1, 'the forged backups fail verification');
    const results = (JSON.parse(verify.stdout) as { results: { id: string; ok: boolean }[] }).results;
    assert.deepEqual(
      results.filter((r) => r.ok).map((r) => r.id),
      [summaryOf(genuine).id],
    );

    const untrusting = await runCli(['restore', 'db', '--create-database', `${target}_b`, '--json'], {
      env: { ...readerEnv, OFFSITE_TRUSTED_SIGNERS: '', OFFSITE_TARGET_URL: fixture.sourceUrl },
    });
    fixture.databases.adopt(`${target}_b`);
    assert.equal(untrusting.code, 0, untrusting.stderr);
    assert.equal(
      summaryOf(untrusting).id,
      summaryOf(foreign).id,
      'without trusted signers the newest backup is restored, its signer shown',
    );
  });

  it('refuses a signing key file that others can read', async () => {
    const loose = join(fixture.dir.path, 'loose.pem');
    assert.equal((await runCli(['keys', 'generate', '--signing', '--output', loose], { env: {} })).code, 0);
    chmodSync(loose, 0o644);
    const run = await runCli(['backup', 'db'], { env: { ...fixture.env, OFFSITE_SIGNING_KEY_FILE: loose } });
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /signingKeyFile \(OFFSITE_SIGNING_KEY_FILE or --signing-key-file\): .* is readable by other users; run chmod 600/,
    );
  });
});
