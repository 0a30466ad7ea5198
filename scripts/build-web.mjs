// Bundles the web client (web/) into dist/web: one entry point per page (web/src/<page>.ts and
// web/pages/<page>.html), shared code split into common chunks, hashed file names under
// dist/web/assets (the Gateway caches them for a year) and the pages rewritten to name them.
// Nothing is fetched from outside the Gateway: labs are often offline.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

/** A page: web/src/<name>.ts + web/pages/<name>.html. The grading page is 'grade'. */
const PAGES = ['student', 'lab', 'grade'];
const OUT = 'dist/web';

// esbuild strips types without checking them: the client is type-checked on its own (DOM types).
try {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'web/tsconfig.json'], { stdio: 'inherit' });
} catch {
  process.stderr.write('build-web: type errors in web/ (above)\n');
  process.exit(2);
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(`${OUT}/assets`, { recursive: true });
const result = await esbuild.build({
  entryPoints: Object.fromEntries(PAGES.map((p) => [p, `web/src/${p}.ts`])),
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: `${OUT}/assets`,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = result.metafile.outputs;
/** JS files a page loads: its entry and the chunks it imports, transitively (`lazy`: also the
 * chunks it may import later, such as each language's grammar). */
function closure(file, lazy, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const i of outputs[file].imports) {
    if (outputs[i.path] && (i.kind === 'import-statement' || (lazy && i.kind === 'dynamic-import'))) closure(i.path, lazy, seen);
  }
  return seen;
}
const manifest = {};
for (const page of PAGES) {
  const entry = Object.keys(outputs).find((f) => outputs[f].entryPoint === `web/src/${page}.ts`);
  if (!entry) throw new Error(`build-web: no output for ${page}`);
  const js = [...closure(entry, false)].map((f) => path.relative(OUT, f));
  const lazy = [...closure(entry, true)].map((f) => path.relative(OUT, f)).filter((f) => !js.includes(f));
  const css = outputs[entry].cssBundle ? [path.relative(OUT, outputs[entry].cssBundle)] : [];
  manifest[page] = { js, css, lazy };
  const html = readFileSync(`web/pages/${page}.html`, 'utf8')
    .replace('<!--CSS-->', css.map((c) => `<link rel="stylesheet" href="/${c}">`).join(''))
    .replace('<!--JS-->', js.slice(1).map((j) => `<link rel="modulepreload" href="/${j}">`).join('') + `<script type="module" src="/${js[0]}"></script>`);
  writeFileSync(`${OUT}/${page}.html`, html);
}
writeFileSync(`${OUT}/manifest.json`, JSON.stringify(manifest, null, 2));
