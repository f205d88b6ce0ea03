/** Tampering a backup as someone with the writer's recipient could: what restore and drill must catch. */
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { bash } from './backup-env.js';
import type { Identity } from './fixture.js';
import { readAsAdmin, s3As } from './s3.js';
import { stack } from './stack.js';

/** Rewrites a manifest's sealed part (re-encrypted to the recipient) so that one table's recorded count is off by one. */
export async function addOneRowToTheRecord(manifestKey: string, identity: Identity): Promise<void> {
  const manifest = JSON.parse((await readAsAdmin(manifestKey)).toString('utf8')) as { sealed: string };
  const opened = JSON.parse(
    await bash(`printf %s "$SEALED" | base64 -d | age -d -i "$KEY"`, { SEALED: manifest.sealed, KEY: identity.file }),
  ) as { tables: { rows: number }[] };
  const first = opened.tables.find((t) => t.rows > 0);
  assert.ok(first);
  first.rows += 1;
  manifest.sealed = (
    await bash(`printf %s "$JSON" | age -r "$RECIPIENT" | base64 -w0`, {
      JSON: JSON.stringify(opened),
      RECIPIENT: identity.recipient,
    })
  ).trim();
  await s3As(stack().admin).send(
    new PutObjectCommand({ Bucket: stack().bucket, Key: manifestKey, Body: JSON.stringify(manifest) }),
  );
}
