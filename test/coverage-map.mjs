// Which sources each test file's coverage counts for. Tests that run the CLI or the packed library
// in child processes (from the sources, or the build) measure no source the way tap does: they count for none.
const childProcessTests = ['test/bin.test.ts', 'test/package.test.ts', 'test/examples.test.ts', 'test/commands/serve.test.ts', 'test/store/sqlite/crash.test.ts', 'test/poll/poll-crash.test.ts', 'test/replicas/kill.test.ts', 'test/replicas/library-replicas.test.ts', 'test/replicas/rolling-restart.test.ts', 'test/replicas/poller-takeover.test.ts', 'test/replicas/database-outage.test.ts']
export default (testFile) => (childProcessTests.includes(testFile) ? null : ['src/**/*.ts', 'schemas/**/*.ts', 'routes/**/*.ts'])
