/**
 * Sends alarms: a webhook on failure and on recovery, and dead-man's-switch pings in the
 * healthchecks.io style (`<base>/start`, `<base>`, `<base>/fail`). A failed alarm is logged and
 * never fails the run or the scheduler. URLs are secrets: they are never logged.
 */
import type { Reporter } from '../report/reporter.js';
import { redact, webhookBody, type AlarmEvent, type WebhookFormat } from './alarm-messages.js';

export interface AlarmTargets {
  webhook?: { url: string; format: WebhookFormat };
  /** healthchecks.io-style check URL. */
  ping?: { url: string };
  timeoutMs: number;
}

export type PingSignal = 'start' | 'success' | 'fail';

export interface AlarmSender {
  notify(event: AlarmEvent): Promise<void>;
  ping(signal: PingSignal, message: string): Promise<void>;
}

export function createAlarmSender(
  targets: AlarmTargets,
  deps: { reporter: Reporter; fetch: typeof fetch; secrets: readonly string[]; job: string },
): AlarmSender {
  const secrets = [
    ...deps.secrets,
    ...(targets.webhook ? [targets.webhook.url] : []),
    ...(targets.ping ? [targets.ping.url] : []),
  ];
  const post = async (what: string, url: string, body: string, contentType: string): Promise<void> => {
    try {
      const response = await deps.fetch(url, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
        signal: AbortSignal.timeout(targets.timeoutMs),
        redirect: 'error',
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    } catch (error) {
      deps.reporter.warn(`${what} failed: ${redact(reasonOf(error), secrets)}`, { job: deps.job });
    }
  };
  return {
    notify: async (event) => {
      if (!targets.webhook) return;
      await post(
        `alarm webhook (${event.type})`,
        targets.webhook.url,
        webhookBody(event, targets.webhook.format, secrets),
        'application/json',
      );
    },
    ping: async (signal, message) => {
      if (!targets.ping) return;
      const base = targets.ping.url.replace(/\/+$/, '');
      const url = signal === 'success' ? base : `${base}/${signal}`;
      await post(`dead-man's-switch ping (${signal})`, url, redact(message, secrets), 'text/plain; charset=utf-8');
    },
  };
}

/** fetch's own message is a bare "fetch failed": the cause says what happened. */
function reasonOf(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}
