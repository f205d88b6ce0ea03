/**
 * Key material read from files and settings: the age identity file, the dedup key file, trusted
 * signer public keys and the signing key's PEM. Each gives keys or its own one-line error, which
 * never echoes a secret.
 */
import fc from 'fast-check';
import { DedupKeyError, generateDedupKeyText, parseDedupKey } from '../../src/format/dedup-key.js';
import {
  generateSigningKey,
  parseSigningKey,
  parseTrustedSigners,
  SignatureError,
} from '../../src/format/signature.js';
import { AgeError, parseAgeIdentityFile } from '../../src/pipeline/age.js';
import { defineTarget, expect, parsedSync } from '../engine.js';
import { mutatedText } from '../mutate.js';
import { workerKeys } from '../samples.js';

export const keyFilesTarget = defineTarget(
  'key files',
  'the age identity file, the dedup key file, trusted signer public keys and the signing key PEM',
  async () => {
    const keys = await workerKeys();
    const identityFile = `# created: 2026-11-26T10:00:00Z\n# public key: ${keys.age.recipient}\n${keys.age.identity}\n`;
    const dedupKey = generateDedupKeyText(new Date('2026-11-26T10:00:00Z'));
    const signing = generateSigningKey();
    const samples = [
      identityFile,
      `${identityFile}\r\n${keys.age.identity}  \r\n`,
      keys.age.identity,
      dedupKey,
      keys.signerPublic,
      signing.privateKeyPem,
    ];
    // The random parts of the secrets (past their constant prefixes): no 8 characters of them may be shown.
    const secrets = [
      keys.age.identity.slice(16),
      (dedupKey.split('\n')[1] ?? '').slice(20),
      (signing.privateKeyPem.split('\n')[1] ?? '').slice(24),
    ];
    const windows = secrets.flatMap((secret) =>
      Array.from({ length: secret.length - 7 }, (_, i) => secret.slice(i, i + 8)),
    );
    return {
      arbitrary: fc.oneof({ weight: 9, arbitrary: mutatedText(samples) }, { weight: 1, arbitrary: fc.string() }),
      check: (text) => {
        const results = [
          parsedSync(() => parseAgeIdentityFile(text), [AgeError]),
          parsedSync(() => parseDedupKey(text), [DedupKeyError]),
          parsedSync(() => parseTrustedSigners(text.split(',')), [SignatureError]),
          parsedSync(() => parseSigningKey(text), [SignatureError]),
        ];
        // A value that starts like a public key is shown (its first 24 characters) by design.
        const looksPublic = text.startsWith('offsite-ed25519:');
        for (const result of results)
          if ('error' in result && !(looksPublic && result === results[2]))
            expect(
              !windows.some((window) => result.error.message.includes(window)),
              `an error message shows part of a secret key: ${result.error.message}`,
            );
        return results.some((result) => 'value' in result) ? 'accepted' : 'rejected';
      },
    };
  },
);
