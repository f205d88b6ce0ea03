/**
 * Header values outside ASCII against the real stack: objects whose `Content-Disposition` and
 * user metadata carry UTF-8 bytes (as botocore, the JS SDK and Offsite's own client upload them) are backed up and
 * restored byte for byte, and one object that fails to restore does not stop the others.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { generateIdentity, tempDir, type TempDir } from '../helpers/backup-env.js';
import { runCli, summaryOf } from '../helpers/cli.js';
import { filesReaderEnv, filesWriterEnv } from '../helpers/fixture.js';
import { s3As } from '../helpers/s3.js';
import { createSourceBucket, putObjects, readBucket, type StoredObject } from '../helpers/source-bucket.js';
import { stack } from '../helpers/stack.js';
import { createS3Client } from '../../src/store/s3-client.js';

const offsiteClient = () =>
  createS3Client({ endpoint: stack().endpoint, forcePathStyle: true, region: 'us-east-1', credentials: stack().admin });

const run = promisify(execFile);
/** How the SDK reads a header value: one character per byte. */
const asRead = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

const BOTOCORE_KEY = 'uploads/résumé.pdf';
const SDK_KEY = 'uploads/notes.txt';
const EMOJI_KEY = 'uploads/emoji.txt';
const DISPOSITION = 'attachment; filename="résumé €.pdf"';
/** 1,020 bytes: with `--to-prefix restored/` the target key passes S3's 1,024-byte limit. */
const LONG_KEY = `long/${'k'.repeat(1_015)}`;

describe('files: header values outside ASCII', { timeout: 300_000 }, () => {
  let dir: TempDir;
  let source: string;
  let env: Record<string, string>;
  let readerEnv: Record<string, string>;
  let original: Map<string, StoredObject>;

  before(async () => {
    dir = tempDir();
    const identity = await generateIdentity(dir.path);
    source = await createSourceBucket();
    const admin = stack().admin;
    // botocore, as the AWS CLI uploads a browser's file name: the UTF-8 bytes as they are.
    const file = join(dir.path, 'resume.pdf');
    writeFileSync(file, 'a résumé');
    await run(
      'aws',
      [
        '--endpoint-url',
        stack().endpoint,
        's3api',
        'put-object',
        '--bucket',
        source,
        '--key',
        BOTOCORE_KEY,
        '--body',
        file,
        '--content-disposition',
        DISPOSITION,
        '--cache-control',
        'max-age=60',
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: admin.accessKeyId,
          AWS_SECRET_ACCESS_KEY: admin.secretAccessKey,
          AWS_DEFAULT_REGION: 'us-east-1',
        },
      },
    );
    // The JS SDK with a string body, as a web app stores a user's text.
    await s3As(admin).send(
      new PutObjectCommand({
        Bucket: source,
        Key: SDK_KEY,
        Body: 'notes',
        ContentType: 'text/plain',
        ContentLanguage: 'fr',
        Metadata: { title: 'café crème', author: 'Zoë' },
      }),
    );
    // Bytes beyond latin1 text in metadata, which only a client that sends bytes as they are can store.
    await offsiteClient().send(
      new PutObjectCommand({
        Bucket: source,
        Key: EMOJI_KEY,
        Body: Buffer.from('emoji'),
        Metadata: { mood: asRead('😀 ✓') },
      }),
    );
    await putObjects(
      source,
      Array.from({ length: 20 }, (_, i) => ({ key: `plain/object-${i}.txt`, body: Buffer.from(`object ${i}`) })),
    );
    await putObjects(source, [{ key: LONG_KEY, body: Buffer.from('a long key') }]);
    original = await readBucket(source);
    env = filesWriterEnv(source, identity.recipient);
    readerEnv = filesReaderEnv(env, identity.file);
    const backup = await runCli(['backup', 'files', '--json'], { env });
    assert.equal(backup.code, 0, backup.stderr);
  });

  after(() => dir.remove());

  test('the source really holds UTF-8 bytes in those headers', async () => {
    const head = await s3As(stack().admin).send(new HeadObjectCommand({ Bucket: source, Key: SDK_KEY }));
    assert.equal(head.Metadata?.title, asRead('café crème'));
    assert.equal(original.get(EMOJI_KEY)?.metadata.mood, asRead('😀 ✓'));
    assert.equal(original.get(BOTOCORE_KEY)?.headers.contentDisposition, asRead(DISPOSITION));
  });

  test('they round-trip byte for byte: content, type, metadata and headers', async () => {
    const target = await createSourceBucket();
    const restore = await runCli(['restore', 'files', '--json', '--to-bucket', target], { env: readerEnv });
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(await readBucket(target), original);
  });

  test('one object that cannot be restored is named, and the others are', async () => {
    const target = await createSourceBucket();
    const restore = await runCli(['restore', 'files', '--json', '--to-bucket', target, '--to-prefix', 'restored/'], {
      env: readerEnv,
    });
    assert.equal(restore.code, 1, restore.stderr);
    const failed = summaryOf(restore).failed as { key: string; problem: string }[];
    assert.deepEqual(
      failed.map((f) => f.key),
      [LONG_KEY],
    );
    assert.match(failed[0]?.problem ?? '', /InvalidObjectName|HTTP 400/);
    const restored = new Map([...(await readBucket(target, 'restored/'))].map(([key, o]) => [key.slice(9), o]));
    const expected = new Map([...original].filter(([key]) => key !== LONG_KEY));
    assert.deepEqual(restored, expected);
  });
});
