// The people's pages in a real browser (Debian's chromium driven by playwright-core) against a
// small world of real server processes on loopback: two continents, one L2 each, a short batch
// timeout. Sign up, publish with an image, read it at once at home and in Asia after the batch,
// search, injection attempts, 403 for others, delete and see it gone everywhere; the profile count
// goes 0 -> 1 -> 0. Screenshots of each page go to the folder this test prints.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { eventually, TestWorld } from '../e2e/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const PROPAGATION_MS = 1_500;
const SHOTS = path.join(process.env['TMPDIR'] ?? os.tmpdir(), 'blog-screens');

let tw: TestWorld | undefined;
let browser: BrowserContext | undefined;
let profileDir = '';

function crc32(b: Buffer): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
/** A real 24x16 PNG (a blue band on orange), so the browser shows it with a width. */
function png(): Buffer {
  const w = 24;
  const h = 16;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) raw.set(y > 5 && y < 10 ? [30, 60, 200] : [240, 140, 20], y * (w * 3 + 1) + 1 + x * 3);
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

before(async () => {
  if (!HAVE_CHROMIUM) return;
  tw = new TestWorld({
    l2Continents: ['europe', 'asia'],
    intervals: {
      propagationTimeoutMs: PROPAGATION_MS,
      syncIntervalMs: 600_000,
      heartbeatIntervalMs: 200,
      l1UnreachableAfterMs: 3_000,
      linkTimeoutMs: 3_000,
      writeTimeoutMs: 5_000,
      fetchTimeoutMs: 4_000,
      catchUpPageTimeoutMs: 1_000,
    },
  });
  mkdirSync(SHOTS, { recursive: true });
  process.stderr.write(`blog web test: screenshots in ${SHOTS}\n`);
  profileDir = mkdtempSync(path.join(os.tmpdir(), 'blog-chromium-'));
  const [, b] = await Promise.all([
    tw.start('l1-europe', 'l1-asia', 'l2-fr-1', 'l2-jp-1'),
    // A fresh profile folder (playwright passes it as --user-data-dir).
    chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1000, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }),
  ]);
  browser = b;
});

after(async () => {
  await browser?.close();
  await tw?.stopAll();
  tw?.cleanup();
  if (profileDir !== '') rmSync(profileDir, { recursive: true, force: true });
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function signUp(ctx: BrowserContext, base: string, login: string, name: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${base}/signup`);
  await page.fill('#login', login);
  await page.fill('#name', name);
  await page.fill('#password', 'correct horse battery');
  await Promise.all([page.waitForURL(/\/me$/), page.click('button[type=submit]')]);
  return page;
}

async function count(page: Page, url: string): Promise<number> {
  await page.goto(url);
  return Number(await page.textContent('#blog-count'));
}

test('people sign up, write with an image, read everywhere, search, and delete; injections are harmless', { skip: HAVE_CHROMIUM ? false : `${CHROMIUM} is missing: install Debian's chromium to run the browser test` }, async () => {
  const w = tw!;
  const FR = w.url('l2-fr-1');
  const JP = w.url('l2-jp-1');
  const dialogs: string[] = [];
  // One browser profile: each L2 names its cookie after itself, so Alice (at FR) and Bob (at JP) do not mix.
  const alice = browser!;
  alice.on('page', (p) => p.on('dialog', (d) => (dialogs.push(d.message()), void d.dismiss())));

  // ---- sign up at her country's L2; no blog yet, so the count is 0 ----
  const page = await signUp(alice, FR, 'alice', 'Alice Martin');
  assert.equal(Number(await page.textContent('#blog-count')), 0);
  await shot(page, '01-profile-0');
  const cookie = (await alice.cookies()).find((c) => c.name === 'blog_sid_l2-fr-1')!;
  assert.ok(cookie.httpOnly, 'the session cookie is HTTP-only');
  assert.equal(cookie.sameSite, 'Lax');

  // ---- the writing page: publication with the first blog, live preview, an image ----
  await page.goto(`${FR}/write`);
  await page.fill('#pubTitle', 'Notes from Paris');
  await page.fill('#slug', 'notes-from-paris');
  await page.fill('#title', 'Kestrels over the Seine');
  await page.fill('#body', 'We saw a **hovering** falcon: the word is *windhover*.\n\n- one\n- two');
  await page.waitForFunction(() => document.querySelector('#preview strong')?.textContent === 'hovering');
  await page.setInputFiles('#images', { name: 'river.png', mimeType: 'image/png', buffer: png() });
  await shot(page, '02-write');
  await Promise.all([page.waitForURL(/\/blogs\/b\./), page.click('button[type=submit]')]);
  const blogUrl = new URL(page.url()).pathname;
  assert.equal(await page.textContent('h1'), 'Kestrels over the Seine');
  assert.equal(await page.textContent('.body strong'), 'hovering');
  await page.waitForFunction(() => { const i = document.querySelector('.images img') as HTMLImageElement | null; return i !== null && i.complete && i.naturalWidth === 24; });
  assert.match((await page.textContent('#freshness')) ?? '', /last synced with its continent server \(l1-europe\) at/);
  await shot(page, '03-blog-home');
  const imgSrc = (await page.getAttribute('.images img', 'src'))!;
  const imgReply = await fetch(FR + imgSrc);
  assert.equal(imgReply.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(imgReply.headers.get('content-type'), 'image/png');
  const me = new URL((await page.goto(`${FR}/me`))!.url()).pathname; // /users/<id> now
  assert.match(me, /^\/users\/u\./);
  assert.equal(Number(await page.textContent('#blog-count')), 1);
  await shot(page, '04-profile-1');
  await page.goto(`${FR}/p/notes-from-paris`);
  assert.equal(await page.textContent('h1'), 'Notes from Paris');
  await shot(page, '05-publication');

  // ---- caching: ETag and 304 ----
  const first = await fetch(FR + blogUrl);
  assert.ok(first.headers.get('etag') !== null && first.headers.get('cache-control') === 'private, no-cache');
  assert.equal(first.headers.get('set-cookie'), null, 'an anonymous reader gets no session (nothing stored)');
  // The footer's "last synced" second changes the page (and its ETag) as heartbeats arrive: retry.
  await eventually('a 304 for an unchanged page', 10_000, async () => {
    const a = await fetch(FR + blogUrl);
    const b = await fetch(FR + blogUrl, { headers: { 'if-none-match': a.headers.get('etag')! } });
    return b.status === 304 ? true : undefined;
  });

  // ---- search at home (its FTS5 and its L1's), by a word in the body ----
  await page.goto(`${FR}/search?q=windhover`);
  assert.equal(await page.locator('.card h2 a').count(), 1);
  assert.equal(await page.textContent('.card mark'), 'windhover');
  assert.match((await page.textContent('main')) ?? '', /1 result from this server and its continent server/, 'the L1 answered the signed search link');
  await shot(page, '06-search-home');

  // ---- another continent: after the batch timeout the blog, its image (by hash) and the count ----
  const bob = browser!;
  const jp = await bob.newPage();
  await eventually('the blog in Asia', 30_000, async () => ((await jp.goto(JP + blogUrl))!.status() === 200 ? true : undefined));
  assert.match((await jp.textContent('.note')) ?? '', /may not yet include other continents' newest/);
  await jp.waitForFunction(() => { const i = document.querySelector('.images img') as HTMLImageElement | null; return i !== null && i.complete && i.naturalWidth === 24; }, undefined, { timeout: 15_000 });
  await shot(jp, '07-blog-other-continent');
  assert.equal(await count(jp, JP + me), 1);
  await jp.goto(`${JP}/search?q=windhover`);
  assert.equal(await jp.locator('.card h2 a').count(), 1);
  await shot(jp, '08-search-other-continent');

  // ---- only the author may delete: Bob (signed up in Japan) gets 403 ----
  const bobPage = await signUp(bob, JP, 'bob', 'Bob Sato');
  const denied = await bobPage.goto(`${JP}${blogUrl}/delete`);
  assert.equal(denied!.status(), 403);
  await shot(bobPage, '09-delete-403');
  const bobPost = await bob.request.post(`${JP}${blogUrl}/delete`, { form: { csrf: await bobPage.inputValue('input[name=csrf]') }, maxRedirects: 0 });
  assert.equal(bobPost.status(), 403, 'a POST with a valid CSRF token by someone else is refused too');
  // A POST without the form's CSRF token is refused.
  const forged = await alice.request.post(`${FR}${blogUrl}/delete`, { form: { csrf: 'nope' }, maxRedirects: 0 });
  assert.equal(forged.status(), 403);

  // ---- injection: an SVG disguised as PNG is refused with a sentence; the body is shown harmlessly ----
  await page.goto(`${FR}/write`);
  await page.fill('#title', 'Tricks');
  const evil = '<script>alert("s")</script>\n\n<img src="/nope.png" onerror="alert(\'e\')">\n\n[click me](javascript:alert(\'j\'))\n\n<a href="javascript:alert(1)" onclick="alert(2)">x</a>';
  await page.fill('#body', evil);
  await page.setInputFiles('#images', { name: 'cat.png', mimeType: 'image/png', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(\'svg\')"><rect width="9" height="9"/></svg>') });
  const refused = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/write') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
  assert.equal(refused[0].status(), 415);
  assert.match((await page.textContent('.error')) ?? '', /"cat\.png" is not a JPEG, PNG, GIF or WebP image by its contents/);
  await shot(page, '10-svg-refused');
  // Over the size cap: 413 with a sentence (sent as the form would, with its CSRF token).
  const big = await alice.request.post(`${FR}/write`, {
    multipart: { csrf: await page.inputValue('input[name=csrf]'), title: 'Big', body: 'x', images: { name: 'big.png', mimeType: 'image/png', buffer: Buffer.concat([png(), Buffer.alloc(5 * 1024 * 1024)]) } },
    maxRedirects: 0,
  });
  assert.equal(big.status(), 413);
  assert.match(await big.text(), /an image may be at most 5 MiB/);
  await page.setInputFiles('#images', []);
  await Promise.all([page.waitForURL(/\/blogs\/b\./), page.click('button[type=submit]')]);
  const evilUrl = new URL(page.url()).pathname;
  await page.waitForTimeout(300); // an onerror would have fired by now
  const dom = await page.evaluate(() => ({
    scripts: document.querySelectorAll('article script').length,
    handlers: [...document.querySelectorAll('article *')].flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith('on')),
    jsLinks: [...document.querySelectorAll('a')].filter((a) => a.getAttribute('href')?.toLowerCase().includes('javascript:')).length,
  }));
  assert.deepEqual(dom, { scripts: 0, handlers: [], jsLinks: 0 });
  await shot(page, '11-injection-harmless');
  await eventually('the tricks blog in Asia', 30_000, async () => ((await jp.goto(JP + evilUrl))!.status() === 200 ? true : undefined));
  assert.deepEqual(dialogs, [], 'no dialog fired');

  // ---- delete both with the confirmation step; gone at home at once, in Asia after propagation ----
  for (const u of [evilUrl, blogUrl]) {
    await page.goto(`${FR}${u}/delete`);
    if (u === blogUrl) await shot(page, '12-delete-confirm');
    await Promise.all([page.waitForURL(/\/users\//), page.click('#confirm-delete')]);
  }
  assert.equal(Number(await page.textContent('#blog-count')), 0);
  await shot(page, '13-profile-0-again');
  assert.equal((await page.goto(FR + blogUrl))!.status(), 410);
  await eventually('the deletion in Asia', 30_000, async () => ((await jp.goto(JP + blogUrl))!.status() === 410 ? true : undefined));
  await shot(jp, '14-deleted-other-continent');
  assert.equal(await count(jp, JP + me), 0);
  await jp.goto(`${JP}/search?q=windhover`);
  assert.equal(await jp.locator('.card').count(), 0);
  await page.goto(`${FR}/`);
  assert.equal(await page.locator(`a[href="${blogUrl}"]`).count(), 0);
  await shot(page, '15-home');
  assert.deepEqual(dialogs, [], 'no dialog fired');
});
