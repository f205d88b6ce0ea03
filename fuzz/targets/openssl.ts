/**
 * The `openssl enc -aes-256-cbc -pbkdf2` format of the original backups. It has no MAC, so altered
 * ciphertext may decrypt to garbage: the oracle is an OpensslFormatError or bytes (no more than the
 * ciphertext), in chunks of any size, and never a hang.
 */
import fc from 'fast-check';
import { sealBytes } from '../../src/pipeline/cipher.js';
import { createOpensslDecryptStream, OpensslFormatError } from '../../src/pipeline/openssl.js';
import { defineTarget, outcomeOf, parsed } from '../engine.js';
import { mutatedBytes } from '../mutate.js';
import { dbManifests, utf8, workerKeys } from '../samples.js';
import { chunked, throughStage } from './age.js';

export const opensslTarget = defineTarget(
  'openssl format',
  'an openssl enc -aes-256-cbc -pbkdf2 file (Salted__, salt, CBC blocks) read as a stream in chunks of any size',
  async () => {
    const keys = await workerKeys();
    const plains = [new Uint8Array(0), utf8('x'), utf8('sixteen bytes!!!'), new Uint8Array(5000).fill(7)];
    const samples = await Promise.all(plains.map((plain) => sealBytes(keys.encryptOpenssl, plain)));
    const manifest = (await dbManifests()).find((m) => m.payload.encryption.scheme === 'openssl');
    if (manifest) samples.push(Buffer.from(manifest.sealed, 'base64'));
    const { password, iterations } = keys.decryptOpenssl;
    const input = fc.oneof(
      { weight: 8, arbitrary: mutatedBytes(samples) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
      {
        weight: 1,
        arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.from(Buffer.concat([utf8('Salted__'), b]))),
      },
    );
    return {
      arbitrary: fc.tuple(input, fc.array(fc.nat(), { maxLength: 6 })),
      check: async ([bytes, cuts]) =>
        outcomeOf(
          await parsed(
            () =>
              throughStage(chunked(bytes, cuts), createOpensslDecryptStream(password, { iterations }), bytes.length),
            [OpensslFormatError],
          ),
        ),
    };
  },
);
