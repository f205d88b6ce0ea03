/** `offsite keys generate`: a new age identity file and its public recipient. */
import type { Command } from 'commander';
import { generateKeys } from '../../jobs/keys-generate.js';
import { wantsJson, type CliContext } from '../context.js';
import { printResult } from '../render.js';

export function registerKeysGenerate(parent: Command, context: CliContext): void {
  parent
    .command('generate')
    .description('create an age identity file (private key, mode 0600) and print its public recipient')
    .requiredOption('-o, --output <file>', 'where to write the identity file; never overwritten')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nKeep the identity file offline (a password manager, a safe); give backups only the recipient (OFFSITE_AGE_RECIPIENTS).')
    .action(async (flags: { output: string; json?: boolean }) => {
      const result = await generateKeys(flags.output, context.now());
      printResult(context, wantsJson(context, flags.json), result, () =>
        [`identity written to ${result.path} (keep it secret and offline)`, `recipient: ${result.recipient}`, `set OFFSITE_AGE_RECIPIENTS=${result.recipient} where backups run`].join('\n'),
      );
    });
}
