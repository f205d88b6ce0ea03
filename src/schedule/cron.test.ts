import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cronProblem } from './cron.js';

describe('cronProblem', () => {
  it('accepts 5-field and 6-field (seconds) expressions in IANA zones', () => {
    for (const expression of ['0 * * * *', '*/5 * * * * *', '30 2 * * 1-5', '@daily'])
      assert.equal(cronProblem(expression, 'UTC'), undefined, expression);
    assert.equal(cronProblem('0 3 * * *', 'Europe/Paris'), undefined);
  });

  it('says what is wrong with a bad expression or zone', () => {
    assert.match(cronProblem('* * *', 'UTC') ?? '', /^"\* \* \*" is not a cron expression of 5 fields/);
    assert.match(cronProblem('61 * * * *', 'UTC') ?? '', /minute/);
    assert.match(cronProblem('0 0 * * * * 2030', 'UTC') ?? '', /not a cron expression/);
    assert.match(cronProblem('0 * * * *', 'Mars/Base') ?? '', /^time zone "Mars\/Base" is not an IANA time zone/);
  });
});
