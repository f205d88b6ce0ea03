/** Creates an age identity file (the private key a restore needs) and returns its public recipient. */
import { configError, jobFailed } from '../errors.js';
import { generateSigningKey } from '../format/signature.js';
import { generateDedupKeyText } from '../format/dedup-key.js';
import { generateAgeIdentity } from '../pipeline/age.js';
import { LocalFileError, writeNewFile } from '../state/local-file.js';

export interface KeysGenerateResult {
  path: string;
  recipient: string;
}

/**
 * Writes the identity with mode 0600, in the `age-keygen` file format the `age` CLI reads.
 * @throws OffsiteError (config) when the file exists (never overwritten) or cannot be created;
 * (failed) when the disk is full or failing: nothing is left at `path` then.
 */
export async function generateKeys(path: string, now: Date): Promise<KeysGenerateResult> {
  const { identity, recipient } = await generateAgeIdentity();
  await writeSecretFile(
    path,
    `# created: ${now.toISOString().replace(/\.\d{3}Z$/, 'Z')}\n# public key: ${recipient}\n${identity}\n`,
  );
  return { path, recipient };
}

/** A manifest-signing key file (Ed25519, PKCS#8 PEM, mode 0600) and its public key for OFFSITE_TRUSTED_SIGNERS. */
export async function generateSigningKeyFile(path: string): Promise<{ path: string; publicKey: string }> {
  const { privateKeyPem, publicKey } = generateSigningKey();
  await writeSecretFile(path, privateKeyPem);
  return { path, publicKey };
}

/** A deduplication key file (mode 0600) for chunked database backups. */
export async function generateDedupKeyFile(path: string, now: Date): Promise<{ path: string }> {
  await writeSecretFile(path, generateDedupKeyText(now));
  return { path };
}

async function writeSecretFile(path: string, text: string): Promise<void> {
  try {
    await writeNewFile(path, text, 0o600);
  } catch (error) {
    if (!(error instanceof LocalFileError)) throw error;
    if (error.code === 'EEXIST')
      throw configError(`${path} already exists; a key file is never overwritten: choose another path`, error);
    if (error.isDiskFailure)
      throw jobFailed(
        `cannot write ${path} (${error.code}); no key file was left behind: free some space (or fix the disk) and run again`,
        error,
      );
    throw configError(`cannot ${error.phase} ${path} (${error.code}); check the folder exists and is writable`, error);
  }
}
