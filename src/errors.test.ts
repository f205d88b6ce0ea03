import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configError, OffsiteError, usageError } from './errors.js';

// Found by npm run fuzz: messages quoted values and keys from offsite.yaml with their newlines.
test('an OffsiteError message is one line, whatever it quotes', () => {
  assert.equal(configError('offsite.yaml: unknown setting "a\nb"').message, 'offsite.yaml: unknown setting "a\\nb"');
  assert.equal(usageError('--since "1\r\nd" is not a time').message, '--since "1\\r\\nd" is not a time');
  assert.equal(new OffsiteError('findings', 'a; b').message, 'a; b');
});
