// `npm run check:deps`: no import circle anywhere in src/, type-only imports included (a circle
// of types still ties the modules into one unit that cannot be read or tested apart), and the
// agent imports no role (the composition root, src/roles/, plugs them in).
// The parser is swc: dependency-cruiser parses TypeScript through the `typescript` package's
// compiler API (< 7) or swc, and this project builds with TypeScript 7, which has no such API.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle makes load order matter (a binding read before its module ran is undefined) and ties the modules into one unit no test can take apart.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'agent-knows-no-role',
      severity: 'error',
      comment: 'The agent (membership, links, role changes) is given its roles by the composition root (src/roles/); it never builds or names one itself.',
      from: { path: '^src/agent/' },
      to: { path: '^src/(gateway|worker|assigner|roles)/' },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    moduleSystems: ['es6'],
  },
};
