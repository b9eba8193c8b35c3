import type { MigrationInterface, QueryRunner } from 'typeorm';
import { LOG_HINT } from './1795305720000-append-only-logs.js';
import { pinSearchPath } from './1795305840000-database-guarantees.js';
import {
  PARTITION_MAP_UP,
  PARTITION_READS_DEFINER,
  PARTITION_READS_DOWN,
  PARTITION_READS_PINNED,
  PARTITION_READS_UP,
} from './partition-reads.js';
import { logsOnly, PARTITION_RETIRE_UP } from './partition-retire.js';

/** The functions a role with only INSERT and SELECT on the logs calls to keep their partitions. */
const DEFINER_FUNCTIONS = [
  'logging_partitions_ensure(regclass, integer, timestamptz)',
  'logging_partition_retire(regclass, timestamptz, bigint)',
  'logging_partition_copy_queue()',
  ...PARTITION_READS_DEFINER,
] as const;

/** Every function of this migration that reads a table or a function by name. */
const PINNED_FUNCTIONS = [
  ...DEFINER_FUNCTIONS,
  'logging_partition_guard()',
  'logging_partition_protect(regclass, text)',
  'logging_partition_add(regclass, text, timestamptz)',
  'logging_default_partition(regclass)',
  'logging_month_partition(regclass, timestamptz)',
  'logging_require_partitioned(text, regclass)',
  ...PARTITION_READS_PINNED,
] as const;

/** The statements of `up`, in order. */
export const LOG_PARTITIONS_UP: readonly string[] = [
  // The smallest UUID whose UUIDv7 timestamp is `at`'s millisecond: the bound of a month partition.
  // Ids of the writer (record-clock.ts) taken from that millisecond on sort at or after it.
  `CREATE FUNCTION "logging_uuid_floor"(at timestamptz) RETURNS uuid
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
      SELECT (lpad(to_hex(floor(extract(epoch FROM at - '1970-01-01 00:00:00+00'::timestamptz) * 1000)::bigint), 12, '0')
              || '00000000000000000000')::uuid
    $$`,
  // The first instant of the UTC month after the one `month` starts.
  `CREATE FUNCTION "logging_month_after"(month timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
      SELECT ((month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
    $$`,
  ...PARTITION_MAP_UP,
  `CREATE FUNCTION "logging_require_partitioned"(caller text, target regclass) RETURNS void
    LANGUAGE plpgsql STABLE AS $$
  BEGIN
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = target) <> 'p' THEN
      RAISE EXCEPTION '%: % is not partitioned', caller, target
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'the partitioned layout is opt-in: npm run logging:partition converts the logs (docs/partitions.md)';
    END IF;
  END
  $$`,
  // The default partition of a log, which takes the rows whose id falls in no month partition.
  `CREATE FUNCTION "logging_default_partition"(parent regclass) RETURNS regclass
    LANGUAGE sql STABLE AS $$
      SELECT c.oid::regclass FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = parent AND pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
    $$`,
  // The partition of a log for the UTC month that starts at `month`: <log>_pYYYYMM, beside the log.
  `CREATE FUNCTION "logging_month_partition"(parent regclass, month timestamptz) RETURNS regclass
    LANGUAGE sql STABLE AS $$
      SELECT c.oid::regclass FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
        JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
       WHERE i.inhparent = parent
         AND c.relname = p.relname || '_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM')
    $$`,
  ...PARTITION_READS_UP,
  // A partition is written through its log only: the log's statement triggers (the database's
  // clock, the rollups) fire for statements on the log, never for those on a partition.
  `CREATE FUNCTION "logging_partition_guard"() RETURNS trigger
    LANGUAGE plpgsql AS $$
  BEGIN
    IF logging_owner_acts(TG_RELID) THEN
      RETURN NULL;
    END IF;
    RAISE EXCEPTION '%: % refused: rows of % are inserted into % itself', TG_TABLE_NAME, TG_OP, TG_ARGV[0], TG_ARGV[0]
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'a partition is written through its log, whose triggers date and roll up the rows';
  END
  $$`,
  // The triggers of a partition of its own: statement triggers are not inherited.
  `CREATE FUNCTION "logging_partition_protect"(part regclass, log text) RETURNS void
    LANGUAGE plpgsql AS $$
  BEGIN
    EXECUTE format('CREATE TRIGGER "trg_logging_partition_insert" BEFORE INSERT ON %s
                      FOR EACH STATEMENT EXECUTE FUNCTION logging_partition_guard(%L)', part, log);
    EXECUTE format('CREATE TRIGGER "trg_logging_partition_no_truncate" BEFORE TRUNCATE ON %s
                      FOR EACH STATEMENT EXECUTE FUNCTION logging_refuse_truncate(%L)', part, '${LOG_HINT}');
  END
  $$`,
  // Adds the partition of one UTC month to `parent` (a log, or a log being converted, whose
  // partitions are named after `log`): made apart and attached, so inserts never wait for it. Rows
  // the default partition holds in the month's range (ids the module did not make) move into it.
  `CREATE FUNCTION "logging_partition_add"(parent regclass, log text, month timestamptz) RETURNS regclass
    LANGUAGE plpgsql AS $$
  DECLARE
    nsp text := (SELECT n.nspname FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent);
    lo uuid := logging_uuid_floor(month);
    hi uuid := logging_uuid_floor(logging_month_after(month));
    def regclass := logging_default_partition(parent);
    part regclass;
    rebuilt regclass;
    strays boolean := false;
    far boolean := false;
  BEGIN
    IF def IS NOT NULL THEN
      EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE id >= $1 AND id < $2)', def)
        INTO strays USING lo, hi;
    END IF;
    EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                   nsp, log || '_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM'), parent);
    part := format('%I.%I', nsp, log || '_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM'))::regclass;
    IF strays THEN
      -- the default partition is rebuilt without the month's rows, which move into the new one
      EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, def);
      EXECUTE format('INSERT INTO %s SELECT * FROM %s WHERE id >= $1 AND id < $2', part, def) USING lo, hi;
      EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                     nsp, log || '_default_rebuilt', parent);
      rebuilt := format('%I.%I', nsp, log || '_default_rebuilt')::regclass;
      EXECUTE format('INSERT INTO %s SELECT * FROM %s WHERE id < $1 OR id >= $2', rebuilt, def) USING lo, hi;
      EXECUTE format('DROP TABLE %s', def);
      EXECUTE format('ALTER TABLE %s RENAME TO %I', rebuilt, log || '_default');
    END IF;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)', parent, part, lo, hi);
    PERFORM logging_partition_protect(part, log);
    -- the month is known to the reads of a few months, flagged when a row far from its date, or
    -- dated more than 12 hours after it was written (the owner's alone), is in it
    IF strays THEN
      EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE logging_id_stray(id, created_at)
                                                   OR created_at > statement_timestamp() + interval ''12 hours'')', part) INTO far;
    END IF;
    EXECUTE format('CREATE TRIGGER "trg_logging_partition_stray" AFTER INSERT ON %s FOR EACH ROW
                      WHEN (logging_id_stray(NEW.id, NEW.created_at)
                            OR NEW.created_at > statement_timestamp() + interval ''12 hours'')
                      EXECUTE FUNCTION logging_partition_note_stray(%L, %L)', part, log, month);
    INSERT INTO logging_log_month AS m (log, month, strays) VALUES (log, month, far)
      ON CONFLICT ON CONSTRAINT pk_logging_log_month DO UPDATE SET strays = EXCLUDED.strays;
    IF strays THEN
      EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s DEFAULT', parent, rebuilt);
      PERFORM logging_partition_protect(rebuilt, log);
    END IF;
    RETURN part;
  END
  $$`,
  // The default partition and the month partitions of a partitioned log, from the month of
  // `from_month` (default: the current month, by the database clock, in UTC) to `months_ahead`
  // months after the current one; returns how many month partitions it made. Several processes
  // may call it at once: one makes each partition.
  `CREATE FUNCTION "logging_partitions_ensure"(
    target regclass, months_ahead integer, from_month timestamptz DEFAULT NULL
  ) RETURNS integer
    LANGUAGE plpgsql AS $$
  DECLARE
    log_name text;
    nsp text;
    month timestamptz;
    final_month timestamptz;
    part regclass;
    made integer := 0;
  BEGIN
    ${logsOnly('logging_partitions_ensure')}
    PERFORM logging_require_partitioned('logging_partitions_ensure', target);
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
      RAISE EXCEPTION 'logging_partitions_ensure: months_ahead must be from 0 to 120, got %', months_ahead
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.relname, n.nspname INTO log_name, nsp FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = target;
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('logging.partitions'));
    IF logging_default_partition(target) IS NULL THEN
      EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, log_name || '_default', target);
      PERFORM logging_partition_protect(format('%I.%I', nsp, log_name || '_default')::regclass, log_name);
    END IF;
    month := date_trunc('month', least(coalesce(from_month, now()), now()), 'UTC');
    final_month := date_trunc('month', now(), 'UTC');
    FOR i IN 1..months_ahead LOOP
      final_month := logging_month_after(final_month);
    END LOOP;
    WHILE month <= final_month LOOP
      IF logging_month_partition(target, month) IS NULL THEN
        part := logging_partition_add(target, log_name, month);
        made := made + 1;
      END IF;
      month := logging_month_after(month);
    END LOOP;
    RETURN made;
  END
  $$`,
  PARTITION_RETIRE_UP,
  // While a log is converted (partitionLogs), the ids of the rows inserted into it are queued for
  // the copy: a trigger of the application's statements, with the owner's rights on the queue.
  `CREATE FUNCTION "logging_partition_copy_queue"() RETURNS trigger
    LANGUAGE plpgsql AS $$
  BEGIN
    EXECUTE format('INSERT INTO %s (id) SELECT id FROM inserted', TG_ARGV[0]::regclass);
    RETURN NULL;
  END
  $$`,
  ...DEFINER_FUNCTIONS.flatMap((fn) => [
    `ALTER FUNCTION ${fn} SECURITY DEFINER`,
    `REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC`,
  ]),
  // the DDL the definer functions run for the owner: no other role has a use for it
  ...[
    'logging_partition_add(regclass, text, timestamptz)',
    'logging_partition_protect(regclass, text)',
  ].map((fn) => `REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC`),
  pinSearchPath(PINNED_FUNCTIONS),
];

const LOG_PARTITIONS_DOWN: readonly string[] = [
  `DO $$
  BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                WHERE c.oid IN (to_regclass('audit_log'), to_regclass('llm_usage_log')) AND c.relkind = 'p') THEN
      RAISE EXCEPTION 'LogPartitions1795305940000: the logs are partitioned; the functions their partitions use stay'
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
  END
  $$`,
  ...[...PINNED_FUNCTIONS].reverse().map((fn) => `DROP FUNCTION ${fn}`),
  ...PARTITION_READS_DOWN,
  `DROP FUNCTION "logging_month_after"(timestamptz)`,
  `DROP FUNCTION "logging_uuid_floor"(timestamptz)`,
];

/**
 * The functions of the partitioned layout (docs/partitions.md). They do nothing to an install that
 * keeps one table per log; `partitionLogs()` (`npm run logging:partition`) converts the logs.
 *
 * - `logging_partitions_ensure(log, months_ahead, from_month)`: the default partition and the
 *   month partitions up to `months_ahead` months ahead; SECURITY DEFINER, so the module creates
 *   them connected as the application's role.
 * - `logging_partition_retire(log, month, expect_rows)`: detaches and drops the oldest month,
 *   outside the retention floor, under the sealers' lock, with a tombstone seal for each firm
 *   whose seals end in it; SECURITY DEFINER, EXECUTE revoked from PUBLIC like the purges.
 * - Each partition refuses INSERT and TRUNCATE of its own from any role but the owner: rows go
 *   through the log, whose statement triggers date and roll them up.
 */
export class LogPartitions1795305940000 implements MigrationInterface {
  name = 'LogPartitions1795305940000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of LOG_PARTITIONS_UP)
      await queryRunner.query(statement);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of LOG_PARTITIONS_DOWN)
      await queryRunner.query(statement);
  }
}
