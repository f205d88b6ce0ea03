/** Prints a command's result: one JSON line for machines, text for people. */
import type { CliContext } from './context.js';

export function printResult(context: CliContext, json: boolean, value: object, text: () => string): void {
  context.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text()}\n`);
}
