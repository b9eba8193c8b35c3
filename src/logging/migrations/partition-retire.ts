import { SEAL_LOCK } from './1795305840000-database-guarantees.js';

/**
 * `logging_partition_retire`, part of `LogPartitions1795305940000`: retention by month. The month's
 * partition is detached and dropped in one transaction, and leaves nothing the row-by-row purges
 * would keep (docs/partitions.md, "Retiring a month"). Its text is the migration's, to the byte.
 */

/** Refuses `target` unless it is one of the two logs; `caller` names the function. */
export const logsOnly = (caller: string) => `
    IF target IS NULL OR target NOT IN ('llm_usage_log'::regclass, 'audit_log'::regclass) THEN
      RAISE EXCEPTION '${caller}: % is not a log table', target
        USING ERRCODE = 'invalid_parameter_value';
    END IF;`;

/** The statement that makes `logging_partition_retire`. */
export const PARTITION_RETIRE_UP = `CREATE FUNCTION "logging_partition_retire"(
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
  $$`;
