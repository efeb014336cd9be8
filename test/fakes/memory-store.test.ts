import t from 'tap'
import { candidatesContract } from '../store/candidates-contract.ts'
import { MemoryStore } from './memory-store.ts'

// The memory store stands in for a database in the application tests: it keeps candidate installs as both stores do.
candidatesContract(t, { open: async () => new MemoryStore() })
