// Which sources each test file's coverage counts for. test/bin.test.ts runs the CLI in child
// processes through tsx, whose compiled sources do not line up with tap's own: it counts for none.
export default (testFile) => (testFile.endsWith('bin.test.ts') ? null : ['src/**/*.ts', 'schemas/**/*.ts', 'routes/**/*.ts'])
