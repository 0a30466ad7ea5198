// The people's pages of an L2: server-rendered HTML (no client framework), accounts, writing with a
// live preview, images, search. Reads go through the L2 core (so a miss is fetched from the L1 and
// a deleted blog is DELETED once its tombstone reached this server); the web layer adds sessions,
// Markdown rendering, ETags and the freshness line every page carries.
import { createHash, randomBytes } from 'node:crypto';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Blog, ClientReply, ClientRequest, ReadRequest, WriteOp } from '../core/types.js';
import type { BlogStore } from '../store/store.js';
import { SNIP_CLOSE, SNIP_OPEN, type SearchHit } from '../store/fts.js';
import { AccountError, csrfOk, type Accounts, type Session } from './accounts.js';
import { EXT, HASH_RE, IMAGE_BYTES_MAX, MIME, refusal, sniffImage, type ImageStore } from './images.js';
import { findImage, pushImage, searchAt, type LinkRoutesOptions } from './links.js';
import { renderMarkdown } from './markdown.js';

const IMAGES_PER_POST_MAX = 4;
const LIST_MAX = 30;

export interface SiteOptions {
  self: string;
  country: string;
  continent: string;
  l1: { name: string; url: string };
  accounts: Accounts;
  images: ImageStore;
  store: BlogStore;
  link: LinkRoutesOptions;
  submit: (r: ClientRequest) => Promise<ClientReply>;
  /** When this L2 last heard from its L1, and the L1 log position it holds everything up to. */
  freshness: () => { lastHeardMs: number; syncedSeq: number; reachable: boolean };
  /** The continent of a country (for "may not yet include other continents' newest"). */
  continentOf: (country: string) => string | undefined;
}

export const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const iso = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';

class PageError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const CSS = `
*{box-sizing:border-box}body{font:16px/1.55 system-ui,sans-serif;margin:0;color:#1d2430;background:#fafaf7}
header{background:#23395d;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none}header .brand{font-weight:700;margin-right:auto}
header form{display:inline;margin:0}header button{background:none;border:1px solid #fff;color:#fff;border-radius:4px;padding:.1rem .5rem;cursor:pointer}
main{max-width:46rem;margin:1.2rem auto;padding:0 1rem}footer{max-width:46rem;margin:2rem auto;padding:.6rem 1rem;color:#5b6470;font-size:.85rem;border-top:1px solid #ddd}
.note{background:#fff7dc;border:1px solid #ecd98d;padding:.4rem .7rem;border-radius:4px;font-size:.9rem}
.error{background:#fde8e8;border:1px solid #e3a0a0;padding:.5rem .8rem;border-radius:4px}
.card{background:#fff;border:1px solid #e2e2dc;border-radius:6px;padding:.7rem 1rem;margin:.7rem 0}.card h2{margin:.1rem 0 .3rem;font-size:1.15rem}
.meta{color:#5b6470;font-size:.85rem}mark{background:#ffe58a}
label{display:block;margin:.6rem 0 .2rem;font-weight:600}input[type=text],input[type=password],input[type=search],textarea{width:100%;padding:.45rem;border:1px solid #bbb;border-radius:4px;font:inherit}
textarea{min-height:14rem;font-family:ui-monospace,monospace}button.primary{margin-top:.8rem;background:#23395d;color:#fff;border:0;border-radius:4px;padding:.5rem 1rem;font:inherit;cursor:pointer}
button.primary{display:block}button.danger{background:#a32020}.preview{background:#fff;border:1px dashed #aaa;padding:.5rem 1rem;min-height:4rem}
article img,.images img{max-width:100%;height:auto;border-radius:4px}.count{font-size:2rem;font-weight:700}
`;
const WRITE_JS = `
// Live preview: the server renders and sanitises; this only shows its answer.
const body = document.getElementById('body'), out = document.getElementById('preview');
const csrf = document.querySelector('input[name=csrf]').value;
let timer = null, seq = 0;
async function render() {
  const mine = ++seq;
  const r = await fetch('/preview', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': csrf }, body: new URLSearchParams({ body: body.value }) });
  if (mine === seq && r.ok) out.innerHTML = await r.text();
}
body.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(render, 250); });
render();
`;

/** Cookies are per host, not per port: one name per server keeps two local L2s' sessions apart. */
const cookieName = (self: string): string => `blog_sid_${self.replace(/[^A-Za-z0-9_-]/g, '_')}`;

export function registerSite(root: FastifyInstance, o: SiteOptions): void {
  // Its own plugin context: the pages' error handler and form parsers do not touch the JSON API.
  void root.register(async (app) => site(app, o));
}

async function site(app: FastifyInstance, o: SiteOptions): Promise<void> {
  const COOKIE = cookieName(o.self);
  const cookieOf = (req: FastifyRequest): string | undefined => {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, v] = part.trim().split('=');
      if (k === COOKIE) return v;
    }
    return undefined;
  };
  const setCookie = (reply: FastifyReply, id: string): void => {
    reply.header('set-cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${7 * 24 * 3600}`);
  };
  await app.register(formbody, { bodyLimit: 256 * 1024 });
  await app.register(multipart, { limits: { fileSize: IMAGE_BYTES_MAX, files: IMAGES_PER_POST_MAX, fields: 10, fieldSize: 128 * 1024, parts: 20 } });

  /**
   * The visitor's session. A new (anonymous) one is stored only where a form needs its CSRF token
   * (sign-up, sign-in): reading pages create nothing, so a reader costs no write and gets the same
   * page (and ETag) as every other anonymous reader.
   */
  const sessionOf = (req: FastifyRequest, reply: FastifyReply, create = false): Session => {
    const held = o.accounts.session(cookieOf(req), Date.now());
    if (held !== undefined) return held;
    if (!create) return { id: '', csrf: '', login: null };
    const fresh = o.accounts.newSession(null, Date.now());
    setCookie(reply, fresh.id);
    return fresh;
  };
  const checkCsrf = (s: Session, token: unknown): void => {
    if (!csrfOk(s, token)) throw new PageError(403, 'CSRF', 'this form is stale or was not sent by this site (CSRF token mismatch): reload the page and try again');
  };
  const read = async (r: ReadRequest): Promise<ClientReply & { ok: true }> => {
    const rep = await o.submit({ kind: 'read', request: r });
    if (!rep.ok) throw new PageError(rep.error.code === 'DELETED' ? 410 : rep.error.code === 'NOT_FOUND' || rep.error.code === 'UNKNOWN_USER' ? 404 : 503, rep.error.code, rep.error.message);
    return rep;
  };
  const write = async (userId: string | null, op: WriteOp): Promise<Extract<ClientReply, { kind: 'written' }>> => {
    const rep = await o.submit({ kind: 'write', request: { requestId: randomBytes(12).toString('base64url'), userId, write: op } });
    if (!rep.ok) {
      const status = rep.error.code === 'NOT_AUTHOR' ? 403 : rep.error.code === 'SLUG_TAKEN' ? 409 : rep.error.code === 'BAD_REQUEST' ? 400 : rep.error.code === 'BODY_TOO_LARGE' ? 413 : 503;
      throw new PageError(status, rep.error.code, rep.error.message);
    }
    if (rep.kind !== 'written') throw new Error(`a write was answered with ${rep.kind}`);
    return rep;
  };

  const layout = (s: Session, title: string, content: string, extraNote = ''): string => {
    const f = o.freshness();
    const acct = s.login === null ? undefined : o.accounts.account(s.login);
    const nav =
      acct === undefined
        ? `<a href="/signin">Sign in</a><a href="/signup">Sign up</a>`
        : `<a href="/write">Write</a><a href="/me">${esc(acct.name)}</a><form method="post" action="/signout"><input type="hidden" name="csrf" value="${esc(s.csrf)}"><button>Sign out</button></form>`;
    const synced = Number.isFinite(f.lastHeardMs) ? `last synced with its continent server (${esc(o.l1.name)}) at ${iso(f.lastHeardMs)}` : `has not yet heard from its continent server (${esc(o.l1.name)})`;
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)} · Blogs</title><link rel="stylesheet" href="/static/blog.css"></head><body>
<header><a class="brand" href="/">Blogs · ${esc(o.country.toUpperCase())}</a><a href="/search">Search</a>${nav}</header>
<main>${extraNote}${content}</main>
<footer id="freshness">This server (${esc(o.self)}, ${esc(o.country)}, ${esc(o.continent)}) ${synced}, up to its log position ${f.syncedSeq}${f.reachable ? '' : '; <strong>it cannot reach its continent server now</strong>: pages show what it holds, writing is refused'}.</footer>
</body></html>`;
  };

  const send = (req: FastifyRequest, reply: FastifyReply, html: string, status = 200): FastifyReply => {
    const etag = `"${createHash('sha1').update(html).digest('base64url')}"`;
    reply.header('content-type', 'text/html; charset=utf-8').header('etag', etag).header('cache-control', 'private, no-cache');
    if (status === 200 && req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.code(status).send(html);
  };

  const otherContinents = `<p class="note">Other continents' newest blogs may not be here yet: they arrive in batches (at most the propagation timeout after they are written).</p>`;
  const card = (b: Blog, snippet?: string): string => {
    const slug = o.store.effectiveSlug(b.publicationId);
    const snip = snippet === undefined ? esc(b.body.slice(0, 160)) : esc(snippet).replaceAll(SNIP_OPEN, '<mark>').replaceAll(SNIP_CLOSE, '</mark>');
    return `<div class="card"><h2><a href="/blogs/${esc(b.id)}">${esc(b.title)}</a></h2><div class="meta">by <a href="/users/${esc(b.authorId)}">${esc(o.store.getUser(b.authorId)?.name ?? b.authorId)}</a>${slug === undefined ? '' : ` in <a href="/p/${esc(slug)}">${esc(slug)}</a>`} · ${iso(b.createdMs)}</div><p>${snip}</p></div>`;
  };

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const s = sessionOf(req, reply);
    let status = 500;
    let code = 'INTERNAL';
    let message = 'internal error';
    if (err instanceof PageError || err instanceof AccountError) {
      status = err instanceof PageError ? err.status : err.code === 'LOGIN_TAKEN' ? 409 : err.code === 'WRONG_PASSWORD' ? 401 : 400;
      code = err.code;
      message = err.message;
    } else if (err.code === 'FST_REQ_FILE_TOO_LARGE' || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      code = 'IMAGE_TOO_LARGE';
      message = `an image may be at most ${IMAGE_BYTES_MAX / 1024 / 1024} MiB`;
    } else if (err.statusCode !== undefined && err.statusCode < 500) {
      status = err.statusCode;
      code = 'BAD_REQUEST';
      message = err.message;
    } else req.log.error({ err }, 'page failed');
    if (req.url.startsWith('/api/') || req.url.startsWith('/link/')) return reply.code(status).send({ error: message, code });
    return send(req, reply, layout(s, 'Error', `<h1>${status === 410 ? 'Deleted' : 'Sorry'}</h1><p class="error" data-code="${esc(code)}">${esc(message)}</p>`), status);
  });

  app.get('/static/blog.css', async (_req, reply) => reply.header('content-type', 'text/css').header('cache-control', 'public, max-age=3600').send(CSS));
  app.get('/static/write.js', async (_req, reply) => reply.header('content-type', 'text/javascript').header('cache-control', 'public, max-age=3600').send(WRITE_JS));

  app.get('/img/:file', async (req, reply) => {
    const m = /^([0-9a-f]{64})\.(jpg|png|gif|webp)$/.exec((req.params as { file: string }).file);
    if (m === null || !HASH_RE.test(m[1]!)) throw new PageError(404, 'NOT_FOUND', 'no such image');
    const b = await findImage(o.link, m[1]!);
    if (b === undefined) throw new PageError(404, 'NOT_FOUND', 'this image is not on this server, its continent server nor the others it asked');
    const t = sniffImage(b)!;
    return reply.header('content-type', MIME[t]).header('cache-control', 'public, max-age=31536000, immutable').header('x-content-type-options', 'nosniff').send(b);
  });

  // ---- readers' pages ------------------------------------------------------------------------------
  app.get('/', async (req, reply) => {
    const s = sessionOf(req, reply);
    const r = await read({ op: 'list-recent', limit: LIST_MAX });
    const blogs = r.kind === 'blogs' ? r.blogs : [];
    return send(req, reply, layout(s, 'Recent blogs', `<h1>Recent blogs</h1>${otherContinents}${blogs.map((b) => card(b)).join('') || '<p>No blogs here yet.</p>'}`));
  });

  app.get('/blogs/:id', async (req, reply) => {
    const s = sessionOf(req, reply);
    const r = await read({ op: 'get-blog', blogId: (req.params as { id: string }).id });
    if (r.kind !== 'blog') throw new Error(`get-blog answered ${r.kind}`);
    const b = r.blog;
    const me = s.login === null ? undefined : o.accounts.account(s.login);
    const mine = me?.userId === b.authorId;
    const far = o.continentOf(b.authorCountry) !== o.continent;
    const images = b.imageRefs.filter((x) => /^\/img\/[0-9a-f]{64}\.(jpg|png|gif|webp)$/.test(x) || /^https:\/\//.test(x));
    const slug = o.store.effectiveSlug(b.publicationId);
    const html = `<article><h1>${esc(b.title)}</h1><div class="meta">by <a href="/users/${esc(b.authorId)}">${esc(o.store.getUser(b.authorId)?.name ?? b.authorId)}</a>${slug === undefined ? '' : ` in <a href="/p/${esc(slug)}">${esc(slug)}</a>`} · written ${iso(b.createdMs)}${b.updatedMs !== b.createdMs ? ` · edited ${iso(b.updatedMs)}` : ''}</div>
${far ? `<p class="note">Written on another continent: this copy may not yet include other continents' newest blogs or edits.</p>` : ''}
<div class="body">${renderMarkdown(b.body)}</div>${images.length > 0 ? `<div class="images">${images.map((x) => `<img src="${esc(x)}" alt="">`).join('')}</div>` : ''}</article>
${mine ? `<p><a href="/blogs/${esc(b.id)}/edit">Edit</a> · <a href="/blogs/${esc(b.id)}/delete">Delete</a></p>` : ''}`;
    return send(req, reply, layout(s, b.title, html));
  });

  app.get('/users/:id', async (req, reply) => {
    const s = sessionOf(req, reply);
    const r = await read({ op: 'get-profile', userId: (req.params as { id: string }).id });
    if (r.kind !== 'profile') throw new Error(`get-profile answered ${r.kind}`);
    const list = await read({ op: 'list-by-author', userId: r.user.id, limit: LIST_MAX });
    const blogs = list.kind === 'blogs' ? list.blogs : [];
    return send(req, reply, layout(s, r.user.name, profileHtml(r.user.name, r.user.country, r.blogCount, blogs.map((b) => card(b)).join(''))));
  });

  const profileHtml = (name: string, country: string, count: number, cards: string) =>
    `<h1>${esc(name)}</h1><p class="meta">from ${esc(country)}</p><p><span class="count" id="blog-count">${count}</span> ${count === 1 ? 'blog' : 'blogs'}</p>${otherContinents}${cards}`;

  app.get('/me', async (req, reply) => {
    const s = sessionOf(req, reply);
    const me = s.login === null ? undefined : o.accounts.account(s.login);
    if (me === undefined) return reply.redirect('/signin', 303);
    if (me.userId !== null) return reply.redirect(`/users/${me.userId}`, 303);
    // No blog yet: the replicated user is created with the first blog, so the count is 0 here.
    return send(req, reply, layout(s, me.name, profileHtml(me.name, o.country, 0, '<p>No blogs yet. <a href="/write">Write the first one</a>.</p>')));
  });

  app.get('/p/:slug', async (req, reply) => {
    const s = sessionOf(req, reply);
    const r = await read({ op: 'get-publication', slug: (req.params as { slug: string }).slug });
    if (r.kind !== 'publication') throw new Error(`get-publication answered ${r.kind}`);
    const list = await read({ op: 'list-by-publication', publicationId: r.publication.id, limit: LIST_MAX });
    const blogs = list.kind === 'blogs' ? list.blogs : [];
    return send(req, reply, layout(s, r.publication.title, `<h1>${esc(r.publication.title)}</h1><p class="meta">/p/${esc(r.effectiveSlug)} · by <a href="/users/${esc(r.publication.ownerId)}">${esc(o.store.getUser(r.publication.ownerId)?.name ?? r.publication.ownerId)}</a></p>${otherContinents}${blogs.map((b) => card(b)).join('') || '<p>No blogs in it here.</p>'}`));
  });

  app.get('/search', async (req, reply) => {
    const s = sessionOf(req, reply);
    const q = String((req.query as { q?: unknown }).q ?? '').slice(0, 200);
    let results = '';
    if (q.trim() !== '') {
      const local = o.store.searchRanked(q, LIST_MAX);
      const remote = await searchAt(o.link.ctx, o.l1.url, o.l1.name, q, LIST_MAX);
      const merged = mergeHits(local, remote ?? [], (id) => o.store.getTombstone(id) !== undefined);
      results =
        `<p class="meta">${merged.length} result${merged.length === 1 ? '' : 's'} from this server and ${remote === undefined ? '<strong>not</strong> from its continent server (unreachable)' : 'its continent server'}.</p>` +
        (merged.map((h) => card(h.blog, h.snippet)).join('') || '<p>Nothing found.</p>');
    }
    return send(req, reply, layout(s, 'Search', `<h1>Search</h1><form method="get" action="/search"><input type="search" name="q" value="${esc(q)}" placeholder="words in a title or a blog"><button class="primary">Search</button></form>${otherContinents}${results}`));
  });

  // ---- accounts ---------------------------------------------------------------------------------
  const signForm = (s: Session, kind: 'signup' | 'signin', error = '') =>
    layout(
      s,
      kind === 'signup' ? 'Sign up' : 'Sign in',
      `<h1>${kind === 'signup' ? 'Sign up' : 'Sign in'} at ${esc(o.country.toUpperCase())}</h1>${error === '' ? '' : `<p class="error">${esc(error)}</p>`}
<p class="meta">Your account lives at your own country's server; one account both reads and writes.</p>
<form method="post" action="/${kind}"><input type="hidden" name="csrf" value="${esc(s.csrf)}">
<label for="login">Sign-in name</label><input type="text" id="login" name="login" required autocomplete="username">
${kind === 'signup' ? '<label for="name">Display name</label><input type="text" id="name" name="name" required>' : ''}
<label for="password">Password</label><input type="password" id="password" name="password" required autocomplete="${kind === 'signup' ? 'new-password' : 'current-password'}">
<button class="primary" type="submit">${kind === 'signup' ? 'Create account' : 'Sign in'}</button></form>`,
    );
  app.get('/signup', async (req, reply) => send(req, reply, signForm(sessionOf(req, reply, true), 'signup')));
  app.get('/signin', async (req, reply) => send(req, reply, signForm(sessionOf(req, reply, true), 'signin')));
  for (const kind of ['signup', 'signin'] as const) {
    app.post(`/${kind}`, async (req, reply) => {
      const s = sessionOf(req, reply);
      const b = (req.body ?? {}) as Record<string, unknown>;
      checkCsrf(s, b.csrf);
      const login = String(b.login ?? '').trim().toLowerCase();
      try {
        const acct = kind === 'signup' ? await o.accounts.signUp(login, String(b.name ?? ''), String(b.password ?? '')) : await o.accounts.signIn(login, String(b.password ?? ''));
        const fresh = o.accounts.newSession(acct.login, Date.now(), s.id === '' ? undefined : s.id);
        setCookie(reply, fresh.id);
        return reply.redirect('/me', 303);
      } catch (err) {
        if (!(err instanceof AccountError)) throw err;
        return send(req, reply, signForm(s, kind, err.message), err.code === 'LOGIN_TAKEN' ? 409 : err.code === 'WRONG_PASSWORD' ? 401 : 400);
      }
    });
  }
  app.post('/signout', async (req, reply) => {
    const s = sessionOf(req, reply);
    checkCsrf(s, (req.body as Record<string, unknown> | undefined)?.csrf);
    if (s.id !== '') o.accounts.dropSession(s.id);
    reply.header('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
    return reply.redirect('/', 303);
  });

  // ---- writers' pages ---------------------------------------------------------------------------
  const signedIn = (s: Session) => {
    const me = s.login === null ? undefined : o.accounts.account(s.login);
    if (me === undefined) throw new PageError(401, 'UNAUTHENTICATED', 'sign in first (at your own country\'s server)');
    return me;
  };
  const writeForm = (s: Session, action: string, hasPublication: boolean, v: { title: string; body: string }, error = '') =>
    layout(
      s,
      'Write',
      `<h1>${action === '/write' ? 'Write a blog' : 'Edit'}</h1>${error === '' ? '' : `<p class="error">${esc(error)}</p>`}
<form method="post" action="${esc(action)}" enctype="multipart/form-data"><input type="hidden" name="csrf" value="${esc(s.csrf)}">
${hasPublication ? '' : `<p class="note">Your first blog creates your publication: give it a name and an address (unique in the whole world).</p><label for="pubTitle">Publication name</label><input type="text" id="pubTitle" name="pubTitle" required><label for="slug">Publication address (lowercase words joined by hyphens)</label><input type="text" id="slug" name="slug" required pattern="[a-z0-9]+(-[a-z0-9]+)*">`}
<label for="title">Title</label><input type="text" id="title" name="title" required value="${esc(v.title)}">
<label for="body">Text (Markdown)</label><textarea id="body" name="body">${esc(v.body)}</textarea>
<label for="images">Images (JPEG, PNG, GIF or WebP, at most ${IMAGE_BYTES_MAX / 1024 / 1024} MiB each, ${IMAGES_PER_POST_MAX} per save)</label><input type="file" id="images" name="images" multiple accept="image/jpeg,image/png,image/gif,image/webp">
<button class="primary" type="submit">Publish</button></form><h2>Preview</h2><div class="preview" id="preview"></div><script src="/static/write.js"></script>`,
    );

  app.get('/write', async (req, reply) => {
    const s = sessionOf(req, reply);
    const me = signedIn(s);
    return send(req, reply, writeForm(s, '/write', me.userId !== null, { title: '', body: '' }));
  });

  /** Reads a multipart form: fields, and images checked by their bytes and stored here and at the L1. */
  const readForm = async (req: FastifyRequest): Promise<{ fields: Record<string, string>; imageRefs: string[]; refused: string[] }> => {
    const fields: Record<string, string> = {};
    const imageRefs: string[] = [];
    const refused: string[] = [];
    for await (const part of req.parts()) {
      if (part.type === 'field') {
        fields[part.fieldname] = String(part.value);
        continue;
      }
      const bytes = await part.toBuffer();
      if (bytes.length === 0 && part.filename === '') continue; // the empty file input
      const t = sniffImage(bytes);
      if (t === null) {
        refused.push(refusal(part.filename, bytes));
        continue;
      }
      const hash = o.images.put(bytes);
      // The L1 keeps a copy so readers elsewhere can fetch it by hash. Like the blog itself, an
      // image counts as written only once its L1 holds it: otherwise nobody could serve it abroad.
      if (!(await pushImage(o.link.ctx, o.l1.url, hash, bytes))) {
        throw new PageError(503, 'L1_UNREACHABLE', `this country's continent server did not take "${part.filename}"; nothing was published, try again`);
      }
      imageRefs.push(`/img/${hash}.${EXT[t]}`);
    }
    return { fields, imageRefs, refused };
  };

  app.post('/write', async (req, reply) => {
    const s = sessionOf(req, reply);
    const me = signedIn(s);
    const { fields, imageRefs, refused } = await readForm(req);
    checkCsrf(s, fields.csrf);
    const v = { title: fields.title ?? '', body: fields.body ?? '' };
    if (refused.length > 0) return send(req, reply, writeForm(s, '/write', me.userId !== null, v, refused.join(' ')), 415);
    let userId = me.userId;
    if (userId === null) {
      const reg = await write(null, { op: 'register', name: me.name, country: o.country, slug: (fields.slug ?? '').trim(), publicationTitle: (fields.pubTitle ?? '').trim() });
      const user = reg.changes.find((c) => c.kind === 'user');
      if (user?.kind !== 'user') throw new Error('a registration was acknowledged without a user');
      userId = user.user.id;
      o.accounts.setUserId(me.login, userId);
    }
    const r = await write(userId, { op: 'create-blog', title: v.title, body: v.body, imageRefs });
    const blog = r.changes.find((c) => c.kind === 'blog');
    if (blog?.kind !== 'blog') throw new Error('a blog write was acknowledged without a blog');
    return reply.redirect(`/blogs/${blog.blog.id}`, 303);
  });

  const ownBlog = async (s: Session, id: string): Promise<Blog> => {
    const me = signedIn(s);
    const r = await read({ op: 'get-blog', blogId: id });
    if (r.kind !== 'blog') throw new Error(`get-blog answered ${r.kind}`);
    if (r.blog.authorId !== me.userId) throw new PageError(403, 'NOT_AUTHOR', 'only its author may edit or delete a blog');
    return r.blog;
  };

  app.get('/blogs/:id/edit', async (req, reply) => {
    const s = sessionOf(req, reply);
    const b = await ownBlog(s, (req.params as { id: string }).id);
    return send(req, reply, writeForm(s, `/blogs/${b.id}/edit`, true, b));
  });
  app.post('/blogs/:id/edit', async (req, reply) => {
    const s = sessionOf(req, reply);
    const { fields, imageRefs, refused } = await readForm(req);
    checkCsrf(s, fields.csrf);
    const b = await ownBlog(s, (req.params as { id: string }).id);
    const v = { title: fields.title ?? '', body: fields.body ?? '' };
    if (refused.length > 0) return send(req, reply, writeForm(s, `/blogs/${b.id}/edit`, true, v, refused.join(' ')), 415);
    await write(b.authorId, { op: 'update-blog', blogId: b.id, title: v.title, body: v.body, imageRefs: [...b.imageRefs, ...imageRefs].slice(0, 16) });
    return reply.redirect(`/blogs/${b.id}`, 303);
  });
  app.get('/blogs/:id/delete', async (req, reply) => {
    const s = sessionOf(req, reply);
    const b = await ownBlog(s, (req.params as { id: string }).id);
    return send(
      req,
      reply,
      layout(s, 'Delete', `<h1>Delete “${esc(b.title)}”?</h1><p>This cannot be undone: the blog disappears from every server as the deletion propagates.</p>
<form method="post" action="/blogs/${esc(b.id)}/delete"><input type="hidden" name="csrf" value="${esc(s.csrf)}"><button class="primary danger" type="submit" id="confirm-delete">Yes, delete it</button> <a href="/blogs/${esc(b.id)}">No, keep it</a></form>`),
    );
  });
  app.post('/blogs/:id/delete', async (req, reply) => {
    const s = sessionOf(req, reply);
    checkCsrf(s, (req.body as Record<string, unknown> | undefined)?.csrf);
    const me = signedIn(s);
    const id = (req.params as { id: string }).id;
    if (me.userId === null) throw new PageError(403, 'NOT_AUTHOR', 'only its author may delete a blog (you have written none yet)');
    await write(me.userId, { op: 'delete-blog', blogId: id }); // the L1 answers NOT_AUTHOR (403) to anyone else
    return reply.redirect(me.userId === null ? '/me' : `/users/${me.userId}`, 303);
  });

  app.post('/preview', async (req, reply) => {
    const s = sessionOf(req, reply);
    checkCsrf(s, req.headers['x-csrf-token']);
    const body = String(((req.body ?? {}) as Record<string, unknown>).body ?? '');
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(renderMarkdown(body));
  });
}

/** Local hits first (this server's ranking), then the L1's that are new here; never a blog deleted here. */
export function mergeHits(local: readonly SearchHit[], remote: readonly SearchHit[], deletedHere: (id: string) => boolean): SearchHit[] {
  const seen = new Set(local.map((h) => h.blog.id));
  const out = [...local];
  for (const h of remote) {
    if (seen.has(h.blog.id) || deletedHere(h.blog.id)) continue;
    seen.add(h.blog.id);
    out.push(h);
  }
  return out;
}
