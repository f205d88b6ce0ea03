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

  it('refuses a time zone name too long to be one at once (found by npm run fuzz: 1.7 s for 200,000 characters)', () => {
    const start = performance.now();
    const problem = cronProblem('0 * * * *', `Europe/${'x'.repeat(200_000)}`) ?? '';
    assert.ok(performance.now() - start < 100);
    assert.match(problem, /^time zone "Europe\/x+…" is not an IANA time zone/);
    assert.ok(problem.length < 200);
  });

  it('says it on one line, whatever the expression holds (found by npm run fuzz)', () => {
    const problem = cronProblem('0 12 L \n *', 'UTC') ?? '';
    assert.match(problem, /^"0 12 L \\n \*" is not a cron expression/);
    assert.ok(!problem.includes('\n'), problem);
  });
});
