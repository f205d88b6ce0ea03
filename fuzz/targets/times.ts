/**
 * Durations, times, whole numbers and cron expressions: `--max-age`, `--since`, `--before`, retry
 * and grace durations, `serveRefresh`, the scheduler's cron lines and time zones. Each gives a
 * usable value or says it is none; a cron expression accepted must give its next run promptly.
 */
import { Cron } from 'croner';
import fc from 'fast-check';
import { parseDuration, parseUtcTime } from '../../src/config/duration.js';
import { parseWholeNumber } from '../../src/config/whole-number.js';
import { OffsiteError } from '../../src/errors.js';
import { cronProblem } from '../../src/schedule/cron.js';
import { defineTarget, expect, parsedSync } from '../engine.js';
import { mutatedText } from '../mutate.js';

const NOW = Date.parse('2026-11-26T10:00:00Z');

const digits = fc.oneof(
  fc.nat(100).map(String),
  fc.stringMatching(/^\d{1,25}$/),
  fc.constantFrom('0', '00', '9007199254740993', '1'.repeat(400)),
);
const unit = fc.constantFrom('s', 'm', 'h', 'd', 'ms', 'w', 'y', 'S', '');
const space = fc.constantFrom('', '', ' ', '\t', '\n');
const durationText = fc
  .array(fc.tuple(space, digits, space, unit), { minLength: 1, maxLength: 4 })
  .map((parts) => parts.map((part) => part.join('')).join(''));

const timeText = fc
  .record({
    date: fc
      .tuple(fc.integer({ min: 0, max: 300_000 }), fc.nat(14), fc.nat(33))
      .map(([y, m, d]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`),
    sep: fc.constantFrom('T', ' ', 't', ''),
    time: fc.option(
      fc.tuple(fc.nat(25), fc.nat(61), fc.option(fc.nat(61)), fc.option(fc.stringMatching(/^\d{1,12}$/))),
    ),
    zone: fc.constantFrom('', 'Z', '+00:00', '-05:30', '+1400', '+99:99', 'z', '+2'),
  })
  .map(({ date, sep, time, zone }) => {
    const pad = (n: number) => String(n).padStart(2, '0');
    const clock = time
      ? `${sep}${pad(time[0])}:${pad(time[1])}${time[2] === null ? '' : `:${pad(time[2])}${time[3] === null ? '' : `.${time[3]}`}`}`
      : '';
    return `${date}${clock}${zone}`;
  });

const cronField = fc.oneof(
  fc.constantFrom(
    '*',
    '*/5',
    '0',
    '59',
    '60',
    '1-5',
    '5-1',
    'L',
    'W',
    '#',
    '?',
    '1,2,3',
    'JAN',
    'MON-FRI',
    'sun',
    '*/0',
    '0/15',
    '15W',
    '5L',
    '5#3',
    '-1',
    '99999999999',
  ),
  fc.nat(70).map(String),
  fc.string({ maxLength: 4 }),
);
const cronText = fc.array(cronField, { minLength: 0, maxLength: 8 }).map((fields) => fields.join(' '));
const zone = fc.oneof(
  fc.constantFrom(
    'UTC',
    'Europe/Paris',
    'America/St_Johns',
    'Asia/Kathmandu',
    'Pacific/Kiritimati',
    'Etc/GMT+12',
    'Local',
    '',
    'utc',
    'Europe/Nowhere',
    '+01:00',
  ),
  fc.string({ maxLength: 12 }),
);

const SAMPLES = [
  '90s',
  '30m',
  '2h',
  '1d',
  '1h30m',
  '1d 2h',
  '36h',
  '2026-11-26T09:00Z',
  '2026-11-26 09:00:00+01:00',
  '2026-11-26',
  '0/4',
  '12',
  ' 7 ',
];
const CRON_SAMPLES = [
  '0 * * * *',
  '30 */4 * * *',
  '0 5 * * *',
  '0 0 5 * * 1-5',
  '0 0 29 2 *',
  '0 0 31 4 *',
  '*/10 * * * * *',
  '0 12 L * *',
];

type Input = { kind: 'text'; text: string } | { kind: 'cron'; expression: string; timezone: string };

export const timesTarget = defineTarget(
  'durations, times, cron',
  'durations (--max-age, --since, retry and grace), ISO times (--before, --since), whole numbers, cron expressions and time zones',
  async () => {
    const text = fc.oneof(durationText, timeText, mutatedText(SAMPLES), fc.string({ maxLength: 30 }));
    const cron = fc.record({
      expression: fc.oneof(cronText, mutatedText(CRON_SAMPLES)),
      timezone: zone,
    });
    const arbitrary: fc.Arbitrary<Input> = fc.oneof(
      { weight: 3, arbitrary: text.map((t) => ({ kind: 'text' as const, text: t })) },
      { weight: 1, arbitrary: cron.map((c) => ({ kind: 'cron' as const, ...c })) },
    );
    return {
      arbitrary,
      check: (input) => {
        if (input.kind === 'cron') {
          const problem = cronProblem(input.expression, input.timezone);
          if (problem !== undefined) {
            expect(
              typeof problem === 'string' && problem !== '' && !problem.includes('\n'),
              `cron problem is not one line: ${JSON.stringify(problem)}`,
            );
            return 'rejected';
          }
          const timer = new Cron(input.expression, { timezone: input.timezone, mode: '5-or-6-parts', paused: true });
          try {
            const next = timer.nextRun(new Date(NOW));
            expect(
              next === null || Number.isFinite(next.getTime()),
              'an accepted cron expression gave an invalid next run',
            );
          } finally {
            timer.stop();
          }
          return 'accepted';
        }
        let accepted = false;
        const ms = parseDuration(input.text);
        if (ms !== undefined) {
          accepted = true;
          expect(Number.isSafeInteger(ms) && ms >= 0, `duration ${JSON.stringify(input.text)} gave ${ms} ms`);
          expect(
            Number.isFinite(new Date(NOW - ms).getTime()),
            `duration ${JSON.stringify(input.text)} reaches before any time (--since)`,
          );
        }
        const time = parseUtcTime(input.text);
        if (time !== undefined) {
          accepted = true;
          expect(Number.isFinite(time.getTime()), `time ${JSON.stringify(input.text)} is invalid`);
        }
        const whole = parsedSync(() => parseWholeNumber(input.text, '--sample', { min: 1, max: 1000 }), [OffsiteError]);
        if ('value' in whole) {
          accepted = true;
          expect(
            Number.isSafeInteger(whole.value) && whole.value >= 1 && whole.value <= 1000,
            `whole number ${whole.value}`,
          );
        }
        return accepted ? 'accepted' : 'rejected';
      },
    };
  },
);
