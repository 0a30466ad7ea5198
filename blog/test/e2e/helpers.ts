import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { http } from './harness.js';

export interface Writer {
  userId: string;
  token: string;
  publicationId: string;
}

export function reqId(): string {
  return randomBytes(9).toString('base64url');
}

export async function register(l2: string, name: string, slug: string): Promise<Writer> {
  const r = await http('POST', `${l2}/api/users`, { name, slug });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { userId: r.body.user.id, token: r.body.token, publicationId: r.body.publication.id };
}

export function bearer(w: Writer): Record<string, string> {
  return { authorization: `Bearer ${w.token}` };
}

export async function publish(l2: string, w: Writer, title: string, body: string, requestId = reqId()): Promise<string> {
  const r = await http('POST', `${l2}/api/blogs`, { title, body, requestId }, bearer(w));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.blog.id as string;
}

/** One Prometheus sample's value (summed over label sets that match `labels`), 0 when absent. */
export async function metric(server: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const r = await fetch(`${server}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
