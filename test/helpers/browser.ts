/**
 * Debian's Chromium (`/usr/bin/chromium`, installed by scripts/setup), driven by playwright-core:
 * no browser is downloaded. Each page records what a person would not see: console errors,
 * failed loads and every request it made.
 */
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const CHROMIUM = process.env.OFFSITE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, and quiet on this machine's closed network: no background requests of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface WatchedPage {
  page: Page;
  /** Console messages of type error, and uncaught page errors. */
  errors: string[];
  /** Every URL the page requested, the page itself included. */
  requests: string[];
}

/** Opens `url` at a viewport `width` pixels wide and waits until it has loaded. */
export async function openPage(browser: Browser, url: string, width: number): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const watched: WatchedPage = { page, errors: [], requests: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') watched.errors.push(message.text());
  });
  page.on('pageerror', (error) => watched.errors.push(error.message));
  page.on('request', (request) => watched.requests.push(request.url()));
  page.on('requestfailed', (request) => watched.errors.push(`request failed: ${request.url()}`));
  await page.goto(url, { waitUntil: 'load' });
  return watched;
}

/** The few browser globals the tests read, typed here: the project compiles without the DOM library. */
interface BrowserGlobals {
  getComputedStyle(element: unknown): { backgroundColor: string };
  document: { documentElement: { scrollWidth: number } };
  innerWidth: number;
}

/** The computed background colour of the first element the locator finds: `rgb(207, 34, 46)`. */
export const backgroundOf = (locator: Locator): Promise<string> =>
  locator
    .first()
    .evaluate((element) => (globalThis as unknown as BrowserGlobals).getComputedStyle(element).backgroundColor);

/** How many CSS pixels the page is wider than the screen (0 or less: no sideways scrolling). */
export const overflowOf = (page: Page): Promise<number> =>
  page.evaluate(() => {
    const browser = globalThis as unknown as BrowserGlobals;
    return browser.document.documentElement.scrollWidth - browser.innerWidth;
  });

/** The `data-*` attributes of the first element the locator finds. */
export async function dataOf(locator: Locator, names: readonly string[]): Promise<Record<string, string | null>> {
  const first = locator.first();
  const values = await Promise.all(names.map((name) => first.getAttribute(`data-${name}`)));
  return Object.fromEntries(names.map((name, i) => [name, values[i] ?? null]));
}
