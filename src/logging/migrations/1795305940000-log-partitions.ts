import type { MigrationInterface, QueryRunner } from 'typeorm';
import { LOG_HINT } from './1795305720000-append-only-logs.js';
import {
  SEAL_LOCK,
  pinSearchPath,
} from './1795305840000-database-guarantees.js';
import {
  PARTITION_MAP_UP,
  PARTITION_READS_DEFINER,
  PARTITION_READS_DOWN,
  PARTITION_READS_PINNED,
  PARTITION_READS_UP,
} from './partition-reads.js';

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

/** Refuses `target` unless it is one of the two logs; `caller` names the function. */
const logsOnly = (caller: string) => `
    IF target IS NULL OR target NOT IN ('llm_usage_log'::regclass, 'audit_log'::regclass) THEN
      RAISE EXCEPTION '${caller}: % is not a log table', target
        USING ERRCODE = 'invalid_parameter_value';
    END IF;`;

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
  // Retention by month: the month's partition is detached and dropped in one transaction, and
  // leaves nothing the row-by-row purges would keep (docs/partitions.md, "Retiring a month").
  `CREATE FUNCTION "logging_partition_retire"(
    target regclass, month timestamptz, expect_rows bigint DEFAULT NULL
  ) RETURNS TABLE (dropped bigint, moved bigint, deleted bigint, seals bigint)
    LANGUAGE plpgsql AS $$
  DECLARE
    log_name text;
    hi timestamptz;
    part regclass;
    older text;
    covered timestamptz;
    kept uuid[];
    total bigint;
  BEGIN
    ${logsOnly('logging_partition_retire')}
    IF month IS NULL OR month <> date_trunc('month', month, 'UTC') THEN
      RAISE EXCEPTION 'logging_partition_retire: month must be the first instant of a UTC month, got %', month
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF expect_rows IS NOT NULL AND expect_rows < 0 THEN
      RAISE EXCEPTION 'logging_partition_retire: expect_rows must be at least 0, got %', expect_rows
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    log_name := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = target);
    hi := logging_month_after(month);
    PERFORM logging_check_retention_floor('logging_partition_retire', target, hi);
    PERFORM logging_require_partitioned('logging_partition_retire', target);
    part := logging_month_partition(target, month);
    IF part IS NULL THEN
      RAISE EXCEPTION 'logging_partition_retire: % has no partition for the month of % (retired already, or never made)', target, month
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(c.relname, ', ' ORDER BY c.relname) INTO older
      FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = target AND c.relname ~ ('^' || log_name || '_p[0-9]{6}$')
       AND c.relname < log_name || '_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM');
    IF older IS NOT NULL THEN
      RAISE EXCEPTION 'logging_partition_retire: months leave oldest first, and % still holds %', target, older
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- a sealer holds this lock for its whole run: a month never leaves while a seal reads it
    PERFORM pg_advisory_xact_lock(${SEAL_LOCK});

    -- Seals: the month leaves by whole seals, as logging_purge_sealed() has them leave.
    seals := 0;
    IF EXISTS (SELECT 1 FROM log_seal s WHERE s.log = log_name) THEN
      SELECT max(r.upto) INTO covered FROM log_seal_run r WHERE r.log = log_name AND r.firm_id IS NULL;
      IF covered IS NULL OR covered < hi THEN
        RAISE EXCEPTION 'logging_partition_retire: % is sealed up to %, before the end of the month (%)', target, coalesce(covered::text, 'no run over every firm'), hi
          USING ERRCODE = 'object_not_in_prerequisite_state',
                HINT = 'seal first (AuditSealService.seal): a sealed month leaves by whole seals';
      END IF;
      PERFORM set_config('logging.seal_purge', 'on', true);
      -- each firm's seals ending before the month's end give way to one tombstone that carries
      -- the chain on: the last one's seq, range end and digest, the first one's prev_digest
      WITH through AS (
        SELECT s.firm_id, max(s.seq) AS seq FROM log_seal s
         WHERE s.log = log_name AND s.to_created_at < hi
         GROUP BY s.firm_id HAVING bool_or(s.kind = 'seal')
      ), gone AS (
        DELETE FROM log_seal s USING through t
         WHERE s.log = log_name AND s.firm_id = t.firm_id AND s.seq <= t.seq
        RETURNING s.*
      ), tombstones AS (
        INSERT INTO log_seal (log, firm_id, seq, kind, to_created_at, to_id, range_count,
                              row_count, prev_digest, digest, snapshot, sealed_at, run_seq)
        SELECT log_name, g.firm_id, max(g.seq), 'tombstone',
               (array_agg(g.to_created_at ORDER BY g.seq DESC))[1], (array_agg(g.to_id ORDER BY g.seq DESC))[1],
               0, sum(g.row_count), (array_agg(g.prev_digest ORDER BY g.seq))[1],
               (array_agg(g.digest ORDER BY g.seq DESC))[1], (array_agg(g.snapshot ORDER BY g.seq DESC))[1],
               (array_agg(g.sealed_at ORDER BY g.seq DESC))[1], (array_agg(g.run_seq ORDER BY g.seq DESC))[1]
          FROM gone g GROUP BY g.firm_id
        RETURNING 1
      )
      SELECT count(*) FILTER (WHERE g.kind = 'seal') INTO seals FROM gone g;
      PERFORM set_config('logging.seal_purge', '', true);
    END IF;
    -- rows dated before the month's end that later seals took in as late arrivals stay with them
    SELECT coalesce(array_agg(l.id), '{}') INTO kept
      FROM log_seal s, unnest(s.late_ids) AS l(id) WHERE s.log = log_name;

    -- Rows of other partitions dated before the month's end (ids that are not the module's, or
    -- left behind by an earlier month): one by one, as the purges delete them.
    PERFORM set_config('logging.purge_cutoff', hi::text, true);
    EXECUTE format('DELETE FROM %s WHERE created_at < $1 AND (id < $2 OR id >= $3) AND NOT (id = ANY ($4))', target)
      USING hi, logging_uuid_floor(month), logging_uuid_floor(hi), kept;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    PERFORM set_config('logging.purge_cutoff', '', true);

    -- The month's own rows: no more of them from here on, then the partition goes whole. Rows of
    -- it dated after the month (written just after its end) and kept late arrivals stay, in the
    -- default partition.
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', part);
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE created_at >= $1 OR id = ANY ($2)) FROM %s', part)
      INTO total, moved USING hi, kept;
    dropped := total - moved;
    IF expect_rows IS NOT NULL AND expect_rows <> dropped + deleted THEN
      RAISE EXCEPTION 'logging_partition_retire: % rows of % would leave with the month of %, and % were expected: nothing left', dropped + deleted, target, month, expect_rows
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', target, part);
    IF moved > 0 THEN
      EXECUTE format('INSERT INTO %s SELECT * FROM %s WHERE created_at >= $1 OR id = ANY ($2)',
                     logging_default_partition(target), part) USING hi, kept;
    END IF;
    EXECUTE format('DROP TABLE %s', part);
    DELETE FROM logging_log_month m WHERE m.log = log_name AND m.month = logging_partition_retire.month;
    INSERT INTO logging_retention_horizon (table_name, purged_before) VALUES (log_name, hi)
      ON CONFLICT (table_name) DO UPDATE
        SET purged_before = greatest(logging_retention_horizon.purged_before, EXCLUDED.purged_before);
    RETURN NEXT;
  END
  $$`,
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
