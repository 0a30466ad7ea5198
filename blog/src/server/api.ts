// The L2's HTTP API for clients (readers and writers), JSON over fastify. It checks shapes, turns
// a bearer token into the acting user, hands a typed request to the L2 core and maps the core's
// reply to a status code. The core decides everything else (who may delete, what is found).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type Blog, type Change, type ClientReply, type ClientRequest, type ErrorCode, type ReadRequest, type WriteOp } from '../core/types.js';

/** Status code of each core error code (stable; documented in blog/README.md). */
export const HTTP_STATUS: Record<ErrorCode | 'UNAUTHENTICATED', number> = {
  BAD_REQUEST: 400,
  BODY_TOO_LARGE: 413,
  VIDEO_NOT_ALLOWED: 400,
  UNKNOWN_USER: 404,
  NOT_FOUND: 404,
  NOT_AUTHOR: 403,
  DELETED: 410,
  SLUG_TAKEN: 409,
  REQUEST_ID_CONFLICT: 409,
  L1_UNREACHABLE: 503,
  CONTINENT_UNREACHABLE: 503,
  L1_TIMEOUT: 504,
  OVERLOADED: 503,
  CLOCK_SKEW: 400,
  NOT_PERMITTED: 403,
  UNAUTHENTICATED: 401,
};

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// ---- user tokens --------------------------------------------------------------------------------
// A token is the user id and an HMAC of it under the world's secret: any L2 in the world checks it
// without asking anyone, and only a server of this world can mint one (at registration).
const TOKEN_SEP = '~';

export function userToken(secret: string, userId: string): string {
  return `${userId}${TOKEN_SEP}${createHmac('sha256', secret).update(`user-token\n${userId}`).digest('base64url')}`;
}

export function userOfToken(secret: string, header: string | undefined): string {
  if (header === undefined || !header.startsWith('Bearer ')) {
    throw new ApiError(401, 'UNAUTHENTICATED', 'this request needs "Authorization: Bearer <token>" (the token POST /api/users returned)');
  }
  const token = header.slice('Bearer '.length).trim();
  const cut = token.lastIndexOf(TOKEN_SEP);
  const userId = cut > 0 ? token.slice(0, cut) : '';
  const want = Buffer.from(userToken(secret, userId));
  const got = Buffer.from(token);
  if (cut <= 0 || want.length !== got.length || !timingSafeEqual(want, got)) {
    throw new ApiError(401, 'UNAUTHENTICATED', 'the bearer token is not valid in this world');
  }
  return userId;
}

// ---- request shapes -------------------------------------------------------------------------------
const requestId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8..64 characters of A-Z a-z 0-9 _ -').optional();
const text = (max: number) => z.string({ error: 'must be a string' }).max(max, `must be at most ${max} characters`);
const registerBody = z.strictObject({
  name: text(1_000),
  slug: text(1_000),
  publicationTitle: text(1_000).optional(),
  country: text(2).optional(),
  requestId,
});
const blogBody = z.strictObject({
  title: text(10_000),
  body: z.string({ error: 'must be a string' }),
  imageRefs: z.array(text(10_000), { error: 'must be an array of image URLs' }).max(1_000).default([]),
  requestId,
});
const deleteQuery = z.strictObject({ requestId });
const limitOf = z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be 1..100').max(100, 'must be 1..100').default(20);
const listQuery = z.strictObject({ author: text(100).optional(), publication: text(100).optional(), limit: limitOf });
const searchQuery = z.strictObject({ q: z.string({ error: 'is required' }).min(1, 'must not be empty').max(200, 'must be at most 200 characters'), limit: limitOf });

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
    throw new ApiError(400, 'BAD_REQUEST', msg);
  }
  return r.data;
}

export interface ApiOptions {
  secret: string;
  country: string;
  submit: (request: ClientRequest) => Promise<ClientReply>;
  /** Counts an answered request (not a fastify hook: any onResponse hook costs ~25 us a request). */
  count: (req: FastifyRequest, status: number) => void;
}

/** Rendered JSON of a blog, memoised per object: a cache hit returns the same Blog object. */
const rendered = new WeakMap<Blog, string>();
function renderBlog(blog: Blog): string {
  let s = rendered.get(blog);
  if (s === undefined) {
    s = `{"blog":${JSON.stringify(blog)}}`;
    rendered.set(blog, s);
  }
  return s;
}

function fail(reply: Extract<ClientReply, { ok: false }>): never {
  const code = reply.error.code;
  const status = HTTP_STATUS[code] ?? 500;
  const message =
    code === 'L1_UNREACHABLE'
      ? `this country's continent server is unreachable, writes are refused; reads still work (${reply.error.message})`
      : reply.error.message;
  throw new ApiError(status, code, message);
}

function changeOf<K extends Change['kind']>(changes: readonly Change[], kind: K): Extract<Change, { kind: K }> {
  const c = changes.find((x) => x.kind === kind);
  if (c === undefined) throw new Error(`the L1 acknowledged a write without a ${kind} change`);
  return c as Extract<Change, { kind: K }>;
}

export function registerApi(app: FastifyInstance, o: ApiOptions): void {
  const write = async (userId: string | null, reqId: string | undefined, op: WriteOp): Promise<readonly Change[]> => {
    const r = await o.submit({ kind: 'write', request: { requestId: reqId ?? randomBytes(12).toString('base64url'), userId, write: op } });
    if (!r.ok) fail(r);
    if (r.kind !== 'written') throw new Error(`a write was answered with ${r.kind}`);
    return r.changes;
  };
  const read = async (request: ReadRequest): Promise<ClientReply & { ok: true }> => {
    const r = await o.submit({ kind: 'read', request });
    if (!r.ok) fail(r);
    return r;
  };
  const auth = (req: FastifyRequest): string => userOfToken(o.secret, req.headers.authorization);

  app.post('/api/users', async (req, reply) => {
    const b = parse(registerBody, req.body);
    const country = b.country ?? o.country;
    const changes = await write(null, b.requestId, { op: 'register', name: b.name, country, slug: b.slug, publicationTitle: b.publicationTitle ?? b.name });
    const user = changeOf(changes, 'user').user;
    const publication = changeOf(changes, 'publication').publication;
    o.count(req, 201);
    return reply.code(201).send({ user, publication, token: userToken(o.secret, user.id) });
  });

  app.post('/api/blogs', async (req, reply) => {
    const userId = auth(req);
    const b = parse(blogBody, req.body);
    const changes = await write(userId, b.requestId, { op: 'create-blog', title: b.title, body: b.body, imageRefs: b.imageRefs });
    o.count(req, 201);
    return reply.code(201).send({ blog: changeOf(changes, 'blog').blog });
  });

  app.put('/api/blogs/:id', async (req) => {
    const userId = auth(req);
    const b = parse(blogBody, req.body);
    const blogId = (req.params as { id: string }).id;
    const changes = await write(userId, b.requestId, { op: 'update-blog', blogId, title: b.title, body: b.body, imageRefs: b.imageRefs });
    o.count(req, 200);
    return { blog: changeOf(changes, 'blog').blog };
  });

  app.delete('/api/blogs/:id', async (req) => {
    const userId = auth(req);
    const q = parse(deleteQuery, req.query);
    const blogId = (req.params as { id: string }).id;
    const changes = await write(userId, q.requestId, { op: 'delete-blog', blogId });
    o.count(req, 200);
    return { deleted: changeOf(changes, 'tombstone').tombstone };
  });

  app.get('/api/blogs/:id', async (req, reply: FastifyReply) => {
    const r = await read({ op: 'get-blog', blogId: (req.params as { id: string }).id });
    if (r.kind !== 'blog') throw new Error(`get-blog answered with ${r.kind}`);
    o.count(req, 200);
    return reply.header('content-type', 'application/json; charset=utf-8').header('x-blog-source', r.source).send(renderBlog(r.blog));
  });

  app.get('/api/blogs', async (req) => {
    const q = parse(listQuery, req.query);
    if (q.author !== undefined && q.publication !== undefined) throw new ApiError(400, 'BAD_REQUEST', 'author, publication: give at most one');
    const request: ReadRequest =
      q.author !== undefined
        ? { op: 'list-by-author', userId: q.author, limit: q.limit }
        : q.publication !== undefined
          ? { op: 'list-by-publication', publicationId: q.publication, limit: q.limit }
          : { op: 'list-recent', limit: q.limit };
    const r = await read(request);
    if (r.kind !== 'blogs') throw new Error(`a list answered with ${r.kind}`);
    o.count(req, 200);
    return { blogs: r.blogs };
  });

  app.get('/api/search', async (req) => {
    const q = parse(searchQuery, req.query);
    const r = await read({ op: 'search', text: q.q, limit: q.limit });
    if (r.kind !== 'blogs') throw new Error(`search answered with ${r.kind}`);
    o.count(req, 200);
    return { blogs: r.blogs };
  });

  app.get('/api/users/:id', async (req, reply) => {
    const r = await read({ op: 'get-profile', userId: (req.params as { id: string }).id });
    if (r.kind !== 'profile') throw new Error(`get-profile answered with ${r.kind}`);
    o.count(req, 200);
    return reply.header('x-blog-source', r.source).send({ user: r.user, blogCount: r.blogCount });
  });

  app.get('/api/publications/:slug', async (req) => {
    const r = await read({ op: 'get-publication', slug: (req.params as { slug: string }).slug });
    if (r.kind !== 'publication') throw new Error(`get-publication answered with ${r.kind}`);
    o.count(req, 200);
    return { publication: r.publication, slug: r.effectiveSlug };
  });
}
