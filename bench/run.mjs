// npm run bench -- <name>: runs bench/<name>.mjs (after the build); `blog` runs the blogging
// platform's own bench (blog/bench/blog.mjs), which lives in its own package.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
const name = process.argv[2];
const known = ['sandbox', 'cluster', 'e2e', 'failover', 'web', 'compat', 'judge', 'footprint', 'seated', 'blog'];
if (name === 'blog') {
  const r = spawnSync('npm', ['--prefix', 'blog', 'run', 'bench', '--', ...process.argv.slice(3)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
if (!name || !known.includes(name) || !existsSync(new URL(`./${name}.mjs`, import.meta.url))) {
  console.error(`usage: npm run bench -- <${known.join('|')}>`);
  process.exit(2);
}
process.argv.splice(2, 1);
await import(`./${name}.mjs`);
