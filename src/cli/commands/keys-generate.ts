/** `offsite keys generate`: a new age identity file and its public recipient. */
import type { Command } from 'commander';
import { generateDedupKeyFile, generateKeys, generateSigningKeyFile } from '../../jobs/keys-generate.js';
import { usageError } from '../../errors.js';
import { wantsJson, type CliContext } from '../context.js';
import { printResult } from '../render.js';

export function registerKeysGenerate(parent: Command, context: CliContext): void {
  parent
    .command('generate')
    .description('create an age identity file (private key, mode 0600) and print its public recipient')
    .requiredOption('-o, --output <file>', 'where to write the identity file; never overwritten')
    .option(
      '--signing',
      'create a manifest-signing key instead (Ed25519): the writer keeps it in OFFSITE_SIGNING_KEY_FILE, restores trust its public key',
    )
    .option(
      '--dedup',
      'create a deduplication key instead: the writer keeps it in OFFSITE_DEDUP_KEY_FILE to write chunked database backups (never needed to restore)',
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nKeep the identity file offline (a password manager, a safe); give backups only the recipient (OFFSITE_AGE_RECIPIENTS).',
    )
    .action(async (flags: { output: string; signing?: boolean; dedup?: boolean; json?: boolean }) => {
      if (flags.signing && flags.dedup) throw usageError('choose one of --signing and --dedup');
      if (flags.dedup) {
        const dedup = await generateDedupKeyFile(flags.output, context.now());
        printResult(context, wantsJson(context, flags.json), dedup, () =>
          [
            `dedup key written to ${dedup.path} (for the machine that writes backups; keep a copy with the S3 writer's settings)`,
            `set OFFSITE_DEDUP_KEY_FILE=${dedup.path} where backups run`,
          ].join('\n'),
        );
        return;
      }
      if (flags.signing) {
        const signing = await generateSigningKeyFile(flags.output);
        printResult(context, wantsJson(context, flags.json), signing, () =>
          [
            `signing key written to ${signing.path} (for the machine that writes backups, apart from its S3 credentials)`,
            `public key: ${signing.publicKey}`,
            `set OFFSITE_TRUSTED_SIGNERS=${signing.publicKey} where backups are restored, verified and drilled`,
          ].join('\n'),
        );
        return;
      }
      const result = await generateKeys(flags.output, context.now());
      printResult(context, wantsJson(context, flags.json), result, () =>
        [
          `identity written to ${result.path} (keep it secret and offline)`,
          `recipient: ${result.recipient}`,
          `set OFFSITE_AGE_RECIPIENTS=${result.recipient} where backups run`,
        ].join('\n'),
      );
    });
}
