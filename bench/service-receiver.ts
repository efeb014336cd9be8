// b24-receiver itself for bench/ingest.ts: the real service as it ships (token check, decoding,
// validation, inbox commit, worker, router, the log line per event) from the environment.
import { startServer } from '../src/service/start-server.ts'
import { announceServer } from './announce-server.ts'

const server = await startServer(process.env)
announceServer(server.url)
