import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configError, jobFailed } from '../errors.js';
import { classifyBackupError } from '../jobs/backup-db/errors.js';
import { ChildProcessError } from '../processes/child-stream.js';
import { DatabaseError } from '../processes/database-error.js';
import { toStoreError } from '../store/s3-errors.js';
import { AlreadyRunningError } from '../concurrency/overlap.js';
import { isTransient } from './transient.js';

const sdkError = (name: string, status?: number): Error =>
  Object.assign(new Error(name), { name, $metadata: status === undefined ? {} : { httpStatusCode: status } });
const socketError = (code: string): Error => Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code });
const upload = (error: unknown) =>
  classifyBackupError(toStoreError(error, { bucket: 'b', key: 'k', action: 'upload' }));

describe('isTransient', () => {
  it('retries network failures, throttling and server errors from S3', () => {
    for (const error of [
      socketError('ECONNREFUSED'),
      socketError('ECONNRESET'),
      socketError('ETIMEDOUT'),
      sdkError('SlowDown', 503),
      sdkError('ServiceUnavailable', 503),
      sdkError('InternalError', 500),
      sdkError('Whatever', 502),
      sdkError('TooManyRequests', 429),
    ]) {
      assert.equal(isTransient(upload(error)), true, error.name + ' ' + error.message);
    }
  });

  it('does not retry denied access, bad credentials or a missing bucket', () => {
    for (const error of [
      sdkError('AccessDenied', 403),
      sdkError('InvalidAccessKeyId', 403),
      sdkError('SignatureDoesNotMatch', 403),
      sdkError('NoSuchBucket', 404),
    ]) {
      assert.equal(isTransient(upload(error)), false, error.name);
    }
  });

  it('retries a lost or refused database connection and a server restart, not a wrong password or database', () => {
    for (const code of ['08006', '08001', '57P01', '57P03', '53300', 'ECONNREFUSED'])
      assert.equal(isTransient(classifyBackupError(new DatabaseError('x', code))), true, code);
    for (const code of ['28P01', '3D000', '42501'])
      assert.equal(isTransient(classifyBackupError(new DatabaseError('x', code))), false, code);
    assert.equal(
      isTransient(classifyBackupError(new DatabaseError('Connection terminated unexpectedly', undefined))),
      true,
    );
  });

  it('retries a pg_dump that lost its server, not one that failed otherwise', () => {
    const lost = new ChildProcessError(
      'pg_dump',
      'pg_dump failed: pg_dump: error: connection to server on socket "/tmp/.s.PGSQL.5432" failed: server closed the connection unexpectedly',
    );
    const denied = new ChildProcessError(
      'pg_dump',
      'pg_dump failed: pg_dump: error: query failed: ERROR:  permission denied for table secrets',
    );
    assert.equal(isTransient(classifyBackupError(lost)), true);
    assert.equal(isTransient(classifyBackupError(denied)), false);
  });

  it('never retries configuration errors, cancellations, overlaps or unknown failures', () => {
    assert.equal(isTransient(configError('bucket is not set', socketError('ECONNREFUSED'))), false);
    assert.equal(isTransient(Object.assign(new Error('aborted'), { name: 'AbortError' })), false);
    assert.equal(isTransient(new AlreadyRunningError('another run holds the lock')), false);
    assert.equal(isTransient(jobFailed('drill failed: table t has 3 rows, manifest says 4')), false);
    assert.equal(isTransient(new Error('something odd')), false);
    assert.equal(isTransient(undefined), false);
    assert.equal(isTransient('text'), false);
  });

  it('follows a cause chain without looping on a cycle', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b: Error & { cause?: unknown } = new Error('b', { cause: a });
    a.cause = b;
    assert.equal(isTransient(b), false);
  });
});
