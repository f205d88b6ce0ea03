/**
 * The writer's deduplication key (docs/threat-model.md, "The dedup key"): a 32-byte secret from
 * which the chunker's gear table and the chunk ids (HMAC-SHA256) are derived. Without it, chunk
 * boundaries and ids reveal nothing an attacker can test a guess against. It is needed to write
 * chunked backups, never to read them. Pure.
 *
 * File format: comment lines starting with `#`, then one line `offsite-dedup-key-1:<base64 of 32 bytes>`.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';

const PREFIX = 'offsite-dedup-key-1:';
const KEY_BYTES = 32;

export interface DedupKey {
  /** Keys the chunker's boundaries. */
  readonly chunkerSecret: Uint8Array;
  /** Keys the chunk ids. */
  readonly idSecret: Uint8Array;
  /** A fingerprint that names the key without revealing it: chunk indexes made with another key are not used. */
  readonly fingerprint: string;
}

export class DedupKeyError extends Error {
  override name = 'DedupKeyError';
}

/** The text of a new key file. */
export function generateDedupKeyText(now: Date): string {
  return `# offsite dedup key, created ${now.toISOString()}; backup side only, never needed to restore\n${PREFIX}${randomBytes(KEY_BYTES).toString('base64')}\n`;
}

/** @throws DedupKeyError when the text is not one key of the expected length. */
export function parseDedupKey(text: string): DedupKey {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const line = lines[0]?.trim();
  if (lines.length !== 1 || line === undefined || !line.startsWith(PREFIX))
    throw new DedupKeyError(`not an Offsite dedup key file (expected one line starting with ${PREFIX})`);
  const secret = Buffer.from(line.slice(PREFIX.length), 'base64');
  if (secret.length !== KEY_BYTES) throw new DedupKeyError(`the dedup key must be ${KEY_BYTES} bytes of base64`);
  const derive = (info: string) => new Uint8Array(hkdfSync('sha256', secret, '', info, KEY_BYTES));
  return {
    chunkerSecret: derive('offsite chunker v1'),
    idSecret: derive('offsite chunk id v1'),
    fingerprint: createHmac('sha256', secret).update('offsite dedup key fingerprint').digest('hex').slice(0, 16),
  };
}
