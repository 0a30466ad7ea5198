// Markdown to HTML on the server, then sanitised: the one place a writer's text becomes markup.
// marked renders (raw HTML in the Markdown passes through it), so sanitize-html is what decides
// what survives: an allow-list of tags and attributes, no event handler attribute (none is allowed),
// no script/style/iframe (not allowed), and URLs only with http, https or mailto (images: http,
// https or a path on this site) — so `javascript:` and `data:` URLs are dropped.
import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

/** Rendering is linear, but a 64 KiB body is the core's limit; anything longer is cut here too. */
export const MARKDOWN_CHARS_MAX = 64 * 1024;

const marked = new Marked({ gfm: true, breaks: false, async: false });

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [
    'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'blockquote', 'pre', 'code', 'em', 'strong', 'del', 's',
    'ul', 'ol', 'li', 'a', 'img', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'sup', 'sub',
  ],
  allowedAttributes: { a: ['href', 'title', 'rel'], img: ['src', 'alt', 'title'], th: ['align'], td: ['align'], ol: ['start'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https'] },
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  transformTags: { a: sanitizeHtml.simpleTransform('a', { rel: 'nofollow noopener noreferrer' }) },
};

export function renderMarkdown(markdown: string): string {
  const html = marked.parse(markdown.slice(0, MARKDOWN_CHARS_MAX)) as string;
  return sanitizeHtml(html, SANITIZE);
}
