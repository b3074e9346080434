// Imports point down the layers of lib/ (run by `npm test`'s pretest and so by CI):
//   util, errors.ts, native            leaves: import nothing else from lib/
//   model, data                        → the leaves
//   tokenize, gguf                     → model, data, leaves
//   train, serve, inference            → the layers above
//   llm (model clients), jobs          → the layers above (jobs may use llm's retry)
//   rationales, bench, report, eval    → the layers above (eval may use rationales)
//   demo, cli, index.ts                → anything
// An exception is listed with the reason it still exists; delete it with the import.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle between modules means neither can be understood, tested or loaded alone.',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'leaves-import-no-lib',
      severity: 'error',
      comment: 'util/, errors.ts and native/ are the bottom layer.',
      from: { path: '^lib/(util/|errors\\.ts|native/)' },
      to: { path: '^lib/', pathNot: '^lib/(util/|errors\\.ts|native/)' },
    },
    {
      name: 'model-and-data-stay-low',
      severity: 'error',
      from: { path: '^lib/(model|data)/' },
      to: { path: '^lib/', pathNot: ['^lib/(util/|errors\\.ts|native/)', '^lib/$1/'] },
    },
    {
      name: 'tokenize-and-gguf-stay-low',
      severity: 'error',
      from: { path: '^lib/(tokenize|gguf)/' },
      to: { path: '^lib/(train|serve|inference|rationales|bench|report|eval|demo|cli)/' },
    },
    {
      name: 'middle-layer-not-up',
      severity: 'error',
      from: { path: '^lib/(train|serve|inference)/' },
      to: { path: '^lib/(llm|jobs|rationales|bench|report|eval|demo|cli)/' },
    },
    {
      name: 'llm-and-jobs-not-up',
      severity: 'error',
      comment: 'The model clients and the job runner serve rationales/ and eval/, not the other way round.',
      from: { path: '^lib/(llm|jobs)/' },
      to: { path: '^lib/(rationales|bench|report|eval|demo|cli)/' },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      comment: 'The CLI is the top.',
      from: { pathNot: '^lib/(cli/|index\\.ts)' },
      to: { path: '^lib/cli/' },
    },
    {
      name: 'nothing-imports-the-demo',
      severity: 'error',
      comment: 'The demo is an application of the library.',
      from: { pathNot: '^lib/(demo/|cli/|index\\.ts)' },
      to: { path: '^lib/demo/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
