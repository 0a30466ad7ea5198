// npm run bench -- <name>: runs bench/<name>.mjs (after the build); `blog` and `blog-scale` run the
// blogging platform's own benches (blog/bench/blog.mjs, blog/bench/scale.mjs), in its own package.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
const name = process.argv[2];
const known = ['sandbox', 'cluster', 'e2e', 'failover', 'web', 'compat', 'judge', 'footprint', 'wire-checks', 'seated', 'blog', 'blog-scale'];
if (name === 'blog' || name === 'blog-scale') {
  const script = name === 'blog' ? 'bench' : 'bench:scale';
  const r = spawnSync('npm', ['--prefix', 'blog', 'run', script, '--', ...process.argv.slice(3)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
if (!name || !known.includes(name) || !existsSync(new URL(`./${name}.mjs`, import.meta.url))) {
  console.error(`usage: npm run bench -- <${known.join('|')}>`);
  process.exit(2);
}
process.argv.splice(2, 1);
await import(`./${name}.mjs`);
