/** Prints a command's result: one JSON line for machines, text for people. */
import type { CliContext } from './context.js';

export function printResult(context: CliContext, json: boolean, value: object, text: () => string): void {
  printed.add(context);
  context.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text()}\n`);
}

const printed = new WeakSet<CliContext>();

/** Whether the command printed its result: a failure after it (findings, some objects not restored) is in it. */
export const resultPrinted = (context: CliContext): boolean => printed.has(context);
