import { after, before } from 'node:test';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { UpCluster } from './up.js';

/** Debian's chromium (scripts/setup.sh installs it): no browser build is ever downloaded. */
export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const why = `browser tests skipped: ${CHROMIUM} is missing (Debian's chromium package; scripts/setup.sh installs it as root)`;
  console.log(`# ${why}`);
  return why;
}

/** Where the tests save their screenshots (CI prints the path); CODEARENA_SCREENS_DIR overrides. */
export const SCREENS_DIR = process.env.CODEARENA_SCREENS_DIR ?? path.join(os.tmpdir(), 'codearena-screens');

/** A headless chromium with a fresh profile (CI runs as root: no sandbox). */
export class TestBrowser {
  /** Uncaught errors of the pages (each is a bug of the page); tests assert there are none. */
  readonly pageErrors: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    private readonly profile: string,
  ) {}

  static async launch(): Promise<TestBrowser> {
    const profile = mkdtempSync(path.join(os.tmpdir(), 'codearena-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 860 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    return new TestBrowser(context, profile);
  }

  async page(): Promise<Page> {
    const page = await this.context.newPage();
    page.on('pageerror', (err) => this.pageErrors.push(err.message));
    return page;
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/** Saves a screenshot of the page as SCREENS_DIR/name.png and prints where. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENS_DIR, { recursive: true });
  const file = path.join(SCREENS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`# screenshot: ${file}`);
  return file;
}

/** Opens the student page and waits until Run is enabled; if the page shows an error instead, fails with its sentence. */
export async function openStudentPage(page: Page, url: string, timeoutMs = 60_000): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(
    () => !(document.getElementById('run') as HTMLButtonElement).disabled || !(document.getElementById('message') as HTMLElement).hidden,
    undefined,
    { timeout: timeoutMs },
  );
  if (await page.isDisabled('#run')) throw new Error(`the student page did not get ready: ${await page.textContent('#message')}`);
}

/** One `codearena up` cluster and one chromium page for a browser test file. */
export interface BrowserSuite {
  /** Why the file's tests are skipped here (chromium missing), or null. */
  readonly skip: string | null;
  readonly cluster: UpCluster;
  readonly browser: TestBrowser;
  readonly page: Page;
}

/**
 * Starts the cluster (`codearena up ARGS`; UpCluster.ready starts it once more if it does not settle) and a browser with one
 * page in the file's `before`, stops both in its `after`; the getters throw if read before then
 * (a test that runs although the suite is skipped is a bug of the test).
 */
export function browserSuite(args: string[]): BrowserSuite {
  const skip = browserMissing();
  let cluster: UpCluster | null = null;
  let browser: TestBrowser | null = null;
  let page: Page | null = null;
  before(async () => {
    if (skip) return;
    const c = new UpCluster(args);
    cluster = c;
    await c.ready(120_000); // chromium shares the 2 cores: up may need longer than its own 60 s
    browser = await TestBrowser.launch();
    page = await browser.page();
  });
  after(async () => {
    await browser?.close();
    await cluster?.stopCleanly();
  });
  const started = <T>(what: string, v: T | null): T => {
    if (v === null) throw new Error(`the browser suite's ${what} is not started (read outside a test, or the suite is skipped)`);
    return v;
  };
  return {
    skip,
    get cluster() { return started('cluster', cluster); },
    get browser() { return started('browser', browser); },
    get page() { return started('page', page); },
  };
}
