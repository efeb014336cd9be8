import type pg from 'pg'
import { checkedOut } from './checked-out.ts'

/** Taken for the whole migration: replicas starting together migrate one after the other. */
const MIGRATION_LOCK = 0x62323472 // "b24r"

/**
 * The schema, one version per entry, never edited once released: a database is brought from
 * whatever version it has to the last. The inbox is laid out as the SQLite one is (see
 * ../rows.ts), plus the claim a replica holds on a record it is handling.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE b24_inbox (
     id bigserial PRIMARY KEY,
     status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dead')),
     chat_key text NOT NULL,
     type text NOT NULL,
     source text NOT NULL,
     received_at bigint NOT NULL,
     next_at bigint NOT NULL,
     attempts integer NOT NULL DEFAULT 0,
     last_error text,
     portal_json text NOT NULL,
     body_kind text NOT NULL,
     body text NOT NULL,
     credentials text,
     claimed_by text,
     claimed_until bigint
   );
   -- The heads of the chats: a claim skips from chat to chat along this index.
   CREATE INDEX b24_inbox_line ON b24_inbox (chat_key, id) WHERE status = 'pending';
   -- Whether a chat is held: only claimed rows are in it.
   CREATE INDEX b24_inbox_claimed ON b24_inbox (chat_key) WHERE claimed_by IS NOT NULL;
   CREATE INDEX b24_inbox_dead ON b24_inbox (id) WHERE status = 'dead';
   CREATE TABLE b24_seen (key text PRIMARY KEY, expires_at bigint NOT NULL);
   CREATE TABLE b24_meta (key text PRIMARY KEY, value text NOT NULL);
   CREATE TABLE b24_leases (name text PRIMARY KEY, owner text NOT NULL, expires_at bigint NOT NULL);`,
  // The portals of a Bitrix24 application (application mode), one row each: its tokens sealed,
  // its application token only as a keyed hash (see schemas/portal.ts).
  `CREATE TABLE b24_portals (
     member_id text PRIMARY KEY,
     domain text NOT NULL,
     client_endpoint text NOT NULL,
     status text NOT NULL CHECK (status IN ('pending', 'active', 'reinstall', 'uninstalled')),
     scope text,
     version text,
     application_token text,
     tokens text,
     expires_at bigint,
     installed_at bigint NOT NULL,
     updated_at bigint NOT NULL
   );`,
  // Installs the OAuth server has not confirmed yet: candidates, several per portal, each with its
  // own application token (a keyed hash) and its own events, held here apart from the inbox until
  // it is settled (see schemas/portal.ts). An install an earlier release kept `pending` in
  // `b24_portals` becomes a candidate, with the events of its portal that were waiting in the
  // inbox (in their order); then `b24_portals` holds confirmed installs only, and its CHECK says so.
  `CREATE TABLE b24_candidates (
     id bigserial PRIMARY KEY,
     member_id text NOT NULL,
     domain text NOT NULL,
     client_endpoint text NOT NULL,
     scope text,
     version text,
     application_token text NOT NULL,
     tokens text NOT NULL,
     expires_at bigint,
     received_at bigint NOT NULL
   );
   CREATE INDEX b24_candidates_member ON b24_candidates (member_id);
   CREATE TABLE b24_candidate_events (
     id bigserial PRIMARY KEY,
     candidate_id bigint NOT NULL,
     chat_key text NOT NULL,
     type text NOT NULL,
     source text NOT NULL,
     received_at bigint NOT NULL,
     portal_json text NOT NULL,
     body_kind text NOT NULL,
     body text NOT NULL,
     credentials text
   );
   CREATE INDEX b24_candidate_events_line ON b24_candidate_events (candidate_id, id);
   INSERT INTO b24_candidates (member_id, domain, client_endpoint, scope, version, application_token, tokens, expires_at, received_at)
     SELECT member_id, domain, client_endpoint, scope, version, application_token, tokens, expires_at, installed_at
     FROM b24_portals WHERE status = 'pending' AND application_token IS NOT NULL AND tokens IS NOT NULL ORDER BY member_id COLLATE "C";
   INSERT INTO b24_candidate_events (candidate_id, chat_key, type, source, received_at, portal_json, body_kind, body, credentials)
     SELECT c.id, i.chat_key, i.type, i.source, i.received_at, i.portal_json, i.body_kind, i.body, i.credentials
     FROM b24_inbox i JOIN b24_candidates c ON c.member_id = i.portal_json::jsonb ->> 'memberId'
     WHERE i.status = 'pending' AND i.source = 'webhook' ORDER BY i.id;
   DELETE FROM b24_inbox i USING b24_candidates c
     WHERE c.member_id = i.portal_json::jsonb ->> 'memberId' AND i.status = 'pending' AND i.source = 'webhook';
   DELETE FROM b24_portals WHERE status = 'pending';
   ALTER TABLE b24_portals DROP CONSTRAINT b24_portals_status_check;
   ALTER TABLE b24_portals ADD CONSTRAINT b24_portals_status_check CHECK (status IN ('active', 'reinstall', 'uninstalled'));`,
  // The format each row was written in (see ../format.ts): what is stored already is format 1, and
  // so is what a replica of an earlier release writes, not knowing the column, during a rolling
  // upgrade. Dedup keys (`b24_seen`) carry none. A constant default rewrites no table.
  `ALTER TABLE b24_inbox ADD COLUMN format integer NOT NULL DEFAULT 1;
   ALTER TABLE b24_candidates ADD COLUMN format integer NOT NULL DEFAULT 1;
   ALTER TABLE b24_candidate_events ADD COLUMN format integer NOT NULL DEFAULT 1;
   ALTER TABLE b24_portals ADD COLUMN format integer NOT NULL DEFAULT 1;
   ALTER TABLE b24_meta ADD COLUMN format integer NOT NULL DEFAULT 1;
   ALTER TABLE b24_leases ADD COLUMN format integer NOT NULL DEFAULT 1;`,
  // A claim's token, its fence: every claim statement takes a new one, and an outcome write acts
  // only while the row still carries the one its writer was given (a claim taken over after it
  // lapsed carries another). A replica of an earlier release claims without one, and names
  // itself in claimed_by, which the fence also matches.
  `ALTER TABLE b24_inbox ADD COLUMN claim bigint;
   CREATE SEQUENCE b24_claims;`,
  // Each portal's REST bucket, shared by the replicas (see ../rest-buckets.ts): its level as of
  // \`at\` (the database's clock, epoch ms), and how many calls the last take granted (what the
  // statement that took them answers).
  `CREATE TABLE b24_rest_buckets (
     portal text PRIMARY KEY,
     level double precision NOT NULL,
     at bigint NOT NULL,
     granted integer NOT NULL DEFAULT 0,
     format integer NOT NULL DEFAULT 1
   );`,
  // The dead letter by the time its last attempt came due (`next_at`, what the retention measures
  // a dead letter's age by: ../retention.ts): a purge finds what is old along it, never scanning
  // the letters it keeps. Only dead rows are in it. (A retry's update of `next_at` was never a HOT
  // update anyway: it also clears `claimed_by`, which b24_inbox_claimed's predicate names.)
  `CREATE INDEX b24_inbox_dead_since ON b24_inbox (next_at) WHERE status = 'dead';`,
]

/** Brings the schema up to date, each version in its own transaction, under an advisory lock. */
export async function migrate(pool: pg.Pool): Promise<void> {
  await checkedOut(pool, async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      await client.query('CREATE TABLE IF NOT EXISTS b24_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
      const [{ version }] = (await client.query<{ version: number }>('SELECT COALESCE(max(version), 0) AS version FROM b24_migrations')).rows as [{ version: number }]
      for (let next = version + 1; next <= MIGRATIONS.length; next++) {
        await client.query('BEGIN')
        try {
          // Not bounded as every other statement is (see postgres-database.ts): a migration of a big
          // table is not cut short, by the server or by the client (the longest a timer waits, 24.8 days).
          await client.query('SET LOCAL statement_timeout = 0')
          await client.query({ text: MIGRATIONS[next - 1] as string, query_timeout: 2 ** 31 - 1 } as pg.QueryConfig)
          await client.query('INSERT INTO b24_migrations (version) VALUES ($1)', [next])
          await client.query('COMMIT')
        } catch (error) {
          await client.query('ROLLBACK')
          throw error
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
    }
  })
}
