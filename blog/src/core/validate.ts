// Semantic checks of a write, run by the L1 before it commits anything (the HTTP edge also checks
// shapes with zod, but a forged or buggy L2 must not get bad data into the database either).
import type { ErrorInfo, WriteRequest } from './types.js';

export interface ContentLimits {
  /** Titles are shown in lists; 200 characters is a long headline. */
  readonly titleCharsMax: number;
  /** 64 KiB of text is a very long blog post; bigger payloads are someone pasting a file. */
  readonly bodyBytesMax: number;
  /** Images are references (URLs); 16 per post keeps a page light to load. */
  readonly imageRefsMax: number;
  readonly imageRefCharsMax: number;
  readonly nameCharsMax: number;
}

export const DEFAULT_CONTENT_LIMITS: ContentLimits = {
  titleCharsMax: 200,
  bodyBytesMax: 64 * 1024,
  imageRefsMax: 16,
  imageRefCharsMax: 500,
  nameCharsMax: 100,
};

export const REQUEST_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;
/** Lowercase words joined by single hyphens: "--" is reserved for renamed duplicates (slug--origin). */
export const SLUG_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const SLUG_CHARS_MIN = 3;
export const SLUG_CHARS_MAX = 40;
export const COUNTRY_RE = /^[a-z]{2}$/;
/** Ids are prefixed request ids: "u.<requestId>", "p.<requestId>", "b.<requestId>". */
export const ENTITY_ID_RE = /^[bpu]\.[A-Za-z0-9_-]{8,64}$/;
const IMAGE_REF_RE = /^(https?:\/\/[^\s]+|\/[^\s]*)\.(png|jpe?g|gif|webp|avif|svg)(\?[^\s]*)?$/i;
const VIDEO_REF_RE = /\.(mp4|m4v|webm|mov|avi|mkv|ogv|flv|wmv|mpe?g|3gp)(\?[^\s]*)?$/i;

function bad(message: string): ErrorInfo {
  return { code: 'BAD_REQUEST', message };
}

export function validateWrite(req: WriteRequest, limits: ContentLimits): ErrorInfo | null {
  if (!REQUEST_ID_RE.test(req.requestId)) return bad('requestId must be 8 to 64 characters of A-Z a-z 0-9 _ -');
  const w = req.write;
  if (w.op === 'register') {
    if (req.userId !== null) return bad('register takes no userId');
    if (w.name.length < 1 || w.name.length > limits.nameCharsMax) return bad(`name must be 1 to ${limits.nameCharsMax} characters`);
    if (!COUNTRY_RE.test(w.country)) return bad('country must be a two-letter lowercase code');
    if (w.slug.length < SLUG_CHARS_MIN || w.slug.length > SLUG_CHARS_MAX || !SLUG_RE.test(w.slug)) {
      return bad(`slug must be ${SLUG_CHARS_MIN} to ${SLUG_CHARS_MAX} characters of lowercase words joined by single hyphens`);
    }
    if (w.publicationTitle.length < 1 || w.publicationTitle.length > limits.titleCharsMax) {
      return bad(`publicationTitle must be 1 to ${limits.titleCharsMax} characters`);
    }
    return null;
  }
  if (req.userId === null || !ENTITY_ID_RE.test(req.userId) || !req.userId.startsWith('u.')) return bad('userId must be a user id (u.<id>)');
  if (w.op === 'update-blog' || w.op === 'delete-blog') {
    if (!ENTITY_ID_RE.test(w.blogId) || !w.blogId.startsWith('b.')) return bad('blogId must be a blog id (b.<id>)');
  }
  if (w.op === 'delete-blog') return null;
  if (w.title.length < 1 || w.title.length > limits.titleCharsMax) return bad(`title must be 1 to ${limits.titleCharsMax} characters`);
  const bodyBytes = Buffer.byteLength(w.body, 'utf8');
  if (bodyBytes > limits.bodyBytesMax) {
    return { code: 'BODY_TOO_LARGE', message: `body is ${bodyBytes} bytes, the limit is ${limits.bodyBytesMax}` };
  }
  if (w.imageRefs.length > limits.imageRefsMax) return bad(`at most ${limits.imageRefsMax} image references`);
  for (const ref of w.imageRefs) {
    if (ref.length > limits.imageRefCharsMax) return bad(`an image reference is over ${limits.imageRefCharsMax} characters`);
    if (VIDEO_REF_RE.test(ref)) return { code: 'VIDEO_NOT_ALLOWED', message: `blogs may contain images, never video: ${ref}` };
    if (!IMAGE_REF_RE.test(ref)) return bad(`image reference must be an http(s) URL or /path ending in .png .jpg .jpeg .gif .webp .avif or .svg: ${ref}`);
  }
  return null;
}
