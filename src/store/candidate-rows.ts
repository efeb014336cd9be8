import { Compile } from 'typebox/compile'
import { NewCandidateSchema, type CandidateRow, type NewCandidate } from '../../schemas/portal.ts'

/**
 * Each field of a candidate install and its column, as both stores lay the table out (see
 * sqlite/migrations.ts and postgres/migrations.ts). The only column names a statement is built from.
 */
export const CANDIDATE_COLUMNS = {
  id: 'id',
  memberId: 'member_id',
  domain: 'domain',
  clientEndpoint: 'client_endpoint',
  scope: 'scope',
  version: 'version',
  applicationToken: 'application_token',
  tokens: 'tokens',
  expiresAt: 'expires_at',
  receivedAt: 'received_at',
} as const satisfies { [Field in keyof CandidateRow]: string }

/** What names candidate `id` in an error. */
export const pendingInstall = (id: number): string => `pending install ${id}`

/** A stored candidate as its table lays it out. */
export type CandidateColumns = { [Field in keyof CandidateRow as (typeof CANDIDATE_COLUMNS)[Field]]: CandidateRow[Field] }

const FIELDS = Object.keys(CANDIDATE_COLUMNS) as Array<keyof CandidateRow>

/** The columns a new candidate fills: all but its id, which the store gives. */
export const NEW_CANDIDATE_FIELDS = FIELDS.filter((field): field is keyof NewCandidate => field !== 'id')

export const toCandidateRow = (columns: CandidateColumns): CandidateRow => Object.fromEntries(FIELDS.map((field) => [field, columns[CANDIDATE_COLUMNS[field]]])) as CandidateRow

const checker = Compile(NewCandidateSchema)

/**
 * Refuses a candidate off its schema before it reaches a statement (in the SQLite store, a
 * statement the table refuses would fail its whole group commit).
 * @throws {TypeError} naming no value (a candidate holds sealed tokens).
 */
export function assertNewCandidate(candidate: NewCandidate): void {
  if (!checker.Check(candidate)) throw new TypeError('not a candidate install: refused, nothing stored')
}
