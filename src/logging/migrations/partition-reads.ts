/**
 * The SQL of the partitioned layout's reads of a few months (docs/partitions.md, "Reading a few
 * months"), part of `LogPartitions1795305940000`: which months each log has and which hold rows
 * far from their date (`logging_log_month`, kept by `logging_partition_add` and
 * `logging_partition_retire`), the id ranges a window's rows can have (`logging_id_ranges`), and
 * the trail's page (`logging_audit_page`).
 */

/**
 * The bodies of `logging_id_stray(id, at)`: true when `at` is NULL or the id's first 48 bits (a
 * UUIDv7's millisecond) are 12 hours or more from it. Both keep what the reads rely on: a row it
 * answers false for has its id within 12 hours of its date.
 *
 * - `uuidFunctions`, PostgreSQL 17 and later: the built-in `uuid_extract_version` and
 *   `uuid_extract_timestamp` (every id but a UUIDv7's is far), next to free on a write;
 * - `text`, PostgreSQL 15 and 16: the first 12 hex digits read as a number, about a microsecond a
 *   row written.
 */
export const ID_STRAY_BODIES = {
  uuidFunctions: `SELECT at IS NULL OR pg_catalog.uuid_extract_version(id) IS DISTINCT FROM 7
        OR (pg_catalog.uuid_extract_timestamp(id) OPERATOR(pg_catalog.-) at) OPERATOR(pg_catalog.>=) '12 hours'::pg_catalog.interval
        OR (at OPERATOR(pg_catalog.-) pg_catalog.uuid_extract_timestamp(id)) OPERATOR(pg_catalog.>=) '12 hours'::pg_catalog.interval`,
  text: `SELECT at IS NULL OR pg_catalog.abs(
        (('x' OPERATOR(pg_catalog.||) pg_catalog.translate(pg_catalog.left(id::pg_catalog.text, 13), '-', ''))::pg_catalog.bit(48))::pg_catalog.int8
        OPERATOR(pg_catalog.-) pg_catalog.floor(pg_catalog.extract('epoch', at OPERATOR(pg_catalog.-) '1970-01-01 00:00:00+00'::pg_catalog.timestamptz) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8
      ) OPERATOR(pg_catalog.>=) 43200000`,
} as const;

/** Before the partition functions: what `logging_partition_add` keeps and the triggers it makes use. */
export const PARTITION_MAP_UP: readonly string[] = [
  // Whether a row's id is more than 12 hours from its date (or it has no date): its partition is
  // not its date's month. Inlined where it is used (a trigger's WHEN on every row written, the
  // reads' conditions), so every name in it is qualified: no search_path of a session changes
  // what it says. Its body is the server's fastest (ID_STRAY_BODIES).
  `DO $do$
  BEGIN
    IF pg_catalog.current_setting('server_version_num')::int >= 170000 THEN
      EXECUTE $f$CREATE FUNCTION "logging_id_stray"(id uuid, at timestamptz) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ ${ID_STRAY_BODIES.uuidFunctions} $$$f$;
    ELSE
      EXECUTE $f$CREATE FUNCTION "logging_id_stray"(id uuid, at timestamptz) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ ${ID_STRAY_BODIES.text} $$$f$;
    END IF;
  END
  $do$`,
  // The month partitions of each partitioned log, kept by the functions that add and retire them,
  // and whether a row far from its date went into one (logging_id_stray): what a read of a few
  // months needs to know to leave the other partitions unread (logging_id_ranges).
  `CREATE TABLE "logging_log_month" (
    "log" text NOT NULL,
    "month" timestamptz NOT NULL,
    "strays" boolean NOT NULL DEFAULT false,
    CONSTRAINT "pk_logging_log_month" PRIMARY KEY ("log", "month")
  )`,
  `CREATE TRIGGER "trg_logging_log_month_owner_only"
    BEFORE INSERT OR UPDATE OR DELETE ON "logging_log_month"
    FOR EACH ROW EXECUTE FUNCTION "logging_owner_only"()`,
  `CREATE TRIGGER "trg_logging_log_month_no_truncate"
    BEFORE TRUNCATE ON "logging_log_month"
    FOR EACH STATEMENT EXECUTE FUNCTION "logging_refuse_truncate"('the partition functions keep logging_log_month')`,
  // month bounds and a flag: every role reads them, whatever it was granted on the logs
  `GRANT SELECT ON "logging_log_month" TO PUBLIC`,
  // A row far from its date went into a month partition (its trigger's WHEN): the month is flagged.
  `CREATE FUNCTION "logging_partition_note_stray"() RETURNS trigger
    LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO logging_log_month AS m (log, month, strays) VALUES (TG_ARGV[0], TG_ARGV[1]::timestamptz, true)
      ON CONFLICT (log, month) DO UPDATE SET strays = true WHERE NOT m.strays;
    RETURN NULL;
  END
  $$`,
];

/** After them: the reads. */
export const PARTITION_READS_UP: readonly string[] = [
  // The ranges of ids that hold every row of `target` dated in [w_lo, w_hi) (with no window: every
  // row far from its date), as [lo, hi) pairs in one array; 'ffffffff-…' stands for no upper end.
  // A row's partition is its id's month: a row within 12 hours of its date, dated at most 12 hours
  // after it was written, is in the window's ids widened by a day each way (the window ending 12
  // hours from now at the latest); any other row is in the default partition or in a month
  // logging_log_month flags. When logging_log_month does not describe the partitions (a partition
  // made or dropped by hand), every id.
  `CREATE FUNCTION "logging_id_ranges"(target regclass, w_lo timestamptz, w_hi timestamptz) RETURNS uuid[]
    LANGUAGE plpgsql STABLE AS $$
  DECLARE
    zero constant uuid := '00000000-0000-0000-0000-000000000000';
    top constant uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    log_name text;
    ranges uuid[] := '{}';
    m record;
    prev timestamptz;
    n integer;
    parts bigint;
    first_month timestamptz;
    last_month timestamptz;
    flagged boolean;
  BEGIN
    SELECT c.relname, l.n, l.first_month, l.last_month, l.flagged,
           (SELECT count(*) - 1 FROM pg_catalog.pg_inherits i WHERE i.inhparent = target)
      INTO log_name, n, first_month, last_month, flagged, parts
      FROM pg_catalog.pg_class c,
           LATERAL (SELECT count(*)::int AS n, min(l.month) AS first_month, max(l.month) AS last_month,
                           coalesce(bool_or(l.strays), false) AS flagged
                      FROM logging_log_month l WHERE l.log = c.relname) l
     WHERE c.oid = target AND c.relkind = 'p';
    IF log_name IS NULL OR n <> parts THEN
      RETURN ARRAY[zero, top];
    END IF;
    IF w_lo IS NOT NULL THEN
      ranges := ARRAY[
        CASE WHEN w_lo - interval '1 day' < '1970-01-01 00:00:00+00' THEN zero
             ELSE logging_uuid_floor(w_lo - interval '1 day') END,
        logging_uuid_floor(least(w_hi, clock_timestamp() + interval '12 hours') + interval '1 day')];
    END IF;
    IF n = 0 THEN
      RETURN ranges || ARRAY[zero, top];
    END IF;
    IF NOT flagged AND last_month = ((first_month AT TIME ZONE 'UTC') + (n - 1) * interval '1 month') AT TIME ZONE 'UTC' THEN
      -- months one after another, none flagged: the default partition's ids before and after them
      RETURN ranges || ARRAY[zero, logging_uuid_floor(first_month),
                             logging_uuid_floor(logging_month_after(last_month)), top];
    END IF;
    -- the default partition's ids: before the first month, between months, after the last
    FOR m IN SELECT l.month, l.strays FROM logging_log_month l WHERE l.log = log_name ORDER BY l.month LOOP
      IF prev IS NULL THEN
        ranges := ranges || ARRAY[zero, logging_uuid_floor(m.month)];
      ELSIF prev <> m.month THEN
        ranges := ranges || ARRAY[logging_uuid_floor(prev), logging_uuid_floor(m.month)];
      END IF;
      IF m.strays THEN
        ranges := ranges || ARRAY[logging_uuid_floor(m.month), logging_uuid_floor(logging_month_after(m.month))];
      END IF;
      prev := logging_month_after(m.month);
    END LOOP;
    RETURN ranges || ARRAY[logging_uuid_floor(prev), top];
  END
  $$`,
  // One page of a firm's audit trail, newest first: AuditTrailService.trail() on the partitioned
  // layout. It reads a month back from the page's end, then four times as far each time the page
  // is not full, down to `from_at` (or the first row), each time only the partitions whose ids can
  // hold the window's rows (logging_id_ranges). Its statements are planned once per connection
  // (force_generic_plan), the partitions outside the window left out as each starts; with sorts
  // off, their plan walks the (firm_id, created_at) index of each partition left, whatever the
  // estimates. Rows with no created_at (only the owner writes them) come first, as ORDER BY
  // created_at DESC has them. `cursor_at` is the keyset cursor's time (core/keyset-cursor.ts).
  `CREATE FUNCTION "logging_audit_page"(
    firm uuid, from_at timestamptz, to_at timestamptz, after_at timestamptz, after_id uuid,
    want_action text, want_entity_type text, want_entity_id uuid, want_user uuid, want_request text,
    lim integer
  ) RETURNS TABLE (
    id uuid, firm_id uuid, user_id uuid, action text, entity_type text, entity_id uuid,
    metadata jsonb, ip_address text, created_at timestamptz, cursor_at text
  )
    LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET enable_sort = off AS $$
  #variable_conflict use_column
  DECLARE
    zero constant uuid := '00000000-0000-0000-0000-000000000000';
    top constant uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    w_hi timestamptz := least(coalesce(to_at, 'infinity'), coalesce(after_at + interval '1 microsecond', 'infinity'));
    w_lo timestamptz;
    floor_at timestamptz := coalesce(from_at, '-infinity');
    span interval := interval '32 days';
    need integer := lim;
    got integer;
    far uuid[];
    r uuid[];
    r1 uuid; r2 uuid; r3 uuid; r4 uuid; r5 uuid; r6 uuid; r7 uuid; r8 uuid; r9 uuid; r10 uuid; r11 uuid; r12 uuid;
  BEGIN
    IF firm IS NULL OR lim IS NULL OR lim < 1 THEN
      RAISE EXCEPTION 'logging_audit_page: firm and a limit of at least 1 are required'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the ids of the rows far from their date: the default partition's, the flagged months'
    far := logging_id_ranges('audit_log', NULL, NULL);
    IF from_at IS NULL AND to_at IS NULL AND after_at IS NULL THEN
      -- the rows with no date first, all of them far from it (after_id: the page before ended on
      -- one of them, and those with smaller ids follow)
      r := CASE WHEN cardinality(far) > 12 THEN ARRAY[zero, top] ELSE far END;
      r := r || array_fill(zero, ARRAY[12 - cardinality(r)]);
      r1 := r[1]; r2 := r[2]; r3 := r[3]; r4 := r[4]; r5 := r[5]; r6 := r[6];
      r7 := r[7]; r8 := r[8]; r9 := r[9]; r10 := r[10]; r11 := r[11]; r12 := r[12];
      RETURN QUERY
        SELECT a.id, a.firm_id, a.user_id, a.action, a.entity_type, a.entity_id, a.metadata,
               a.ip_address, a.created_at,
               to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
          FROM audit_log a
         WHERE a.firm_id = firm AND a.created_at IS NULL
           AND ((a.id >= r1 AND a.id < r2) OR (a.id >= r3 AND a.id < r4) OR (a.id >= r5 AND a.id < r6)
                OR (a.id >= r7 AND a.id < r8) OR (a.id >= r9 AND a.id < r10) OR (a.id >= r11 AND a.id < r12)
                OR a.id = 'ffffffff-ffff-ffff-ffff-ffffffffffff')
           AND (after_id IS NULL OR a.id < after_id)
           AND (want_action IS NULL OR a.action = want_action)
           AND (want_entity_type IS NULL OR a.entity_type = want_entity_type)
           AND (want_entity_id IS NULL OR a.entity_id = want_entity_id)
           AND (want_user IS NULL OR a.user_id = want_user)
           AND (want_request IS NULL OR a.metadata ->> 'requestId' = want_request)
         ORDER BY a.id DESC
         LIMIT need;
      GET DIAGNOSTICS got = ROW_COUNT;
      need := need - got;
    END IF;
    WHILE need > 0 AND w_hi > floor_at LOOP
      w_lo := (CASE WHEN w_hi = 'infinity' THEN now() ELSE w_hi END) - span;
      IF w_lo <= floor_at OR span > interval '3000 days' THEN
        w_lo := floor_at;
      END IF;
      -- the window's ids, widened by a day each way, its end 12 hours from now at the latest
      r := ARRAY[
        CASE WHEN w_lo - interval '1 day' < '1970-01-01 00:00:00+00' THEN zero
             ELSE logging_uuid_floor(w_lo - interval '1 day') END,
        logging_uuid_floor(least(w_hi, clock_timestamp() + interval '12 hours') + interval '1 day')] || far;
      IF cardinality(r) > 12 THEN
        r := ARRAY[zero, top];
      END IF;
      r := r || array_fill(zero, ARRAY[12 - cardinality(r)]);
      r1 := r[1]; r2 := r[2]; r3 := r[3]; r4 := r[4]; r5 := r[5]; r6 := r[6];
      r7 := r[7]; r8 := r[8]; r9 := r[9]; r10 := r[10]; r11 := r[11]; r12 := r[12];
      RETURN QUERY
        SELECT a.id, a.firm_id, a.user_id, a.action, a.entity_type, a.entity_id, a.metadata,
               a.ip_address, a.created_at,
               to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
          FROM audit_log a
         WHERE a.firm_id = firm AND a.created_at >= w_lo AND a.created_at < w_hi
           AND ((a.id >= r1 AND a.id < r2) OR (a.id >= r3 AND a.id < r4) OR (a.id >= r5 AND a.id < r6)
                OR (a.id >= r7 AND a.id < r8) OR (a.id >= r9 AND a.id < r10) OR (a.id >= r11 AND a.id < r12)
                OR a.id = 'ffffffff-ffff-ffff-ffff-ffffffffffff')
           AND (after_at IS NULL OR (a.created_at, a.id) < (after_at, after_id))
           AND (want_action IS NULL OR a.action = want_action)
           AND (want_entity_type IS NULL OR a.entity_type = want_entity_type)
           AND (want_entity_id IS NULL OR a.entity_id = want_entity_id)
           AND (want_user IS NULL OR a.user_id = want_user)
           AND (want_request IS NULL OR a.metadata ->> 'requestId' = want_request)
         ORDER BY a.created_at DESC, a.id DESC
         LIMIT need;
      GET DIAGNOSTICS got = ROW_COUNT;
      need := need - got;
      w_hi := w_lo;
      span := span * 4;
    END LOOP;
  END
  $$`,
];

/** The functions of these statements that run with the owner's rights. */
export const PARTITION_READS_DEFINER = [
  'logging_partition_note_stray()',
] as const;

/** The functions of these statements that read a table or a function by name. */
export const PARTITION_READS_PINNED = [
  'logging_id_ranges(regclass, timestamptz, timestamptz)',
  'logging_audit_page(uuid, timestamptz, timestamptz, timestamptz, uuid, text, text, uuid, uuid, text, integer)',
] as const;

/** What `down` drops besides the pinned functions, which the migration drops with its own. */
export const PARTITION_READS_DOWN: readonly string[] = [
  `DROP TABLE "logging_log_month"`,
  `DROP FUNCTION "logging_id_stray"(uuid, timestamptz)`,
];
