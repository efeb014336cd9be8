// Which sources each test file's coverage counts for. Tests that run the CLI in child processes
// go through tsx, whose compiled sources do not line up with tap's own: they count for none.
const childProcessTests = ['test/bin.test.ts', 'test/commands/serve.test.ts', 'test/inbox/crash.test.ts', 'test/poll/poll-crash.test.ts']
export default (testFile) => (childProcessTests.includes(testFile) ? null : ['src/**/*.ts', 'schemas/**/*.ts', 'routes/**/*.ts'])
