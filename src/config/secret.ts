/**
 * A secret value that never shows itself: not in logs, `util.inspect`, JSON or string templates.
 * Read it only with {@link Secret.reveal}, at the point where it is handed to a library or a child's environment.
 */
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
