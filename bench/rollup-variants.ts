/**
 * How bench/writer keeps the daily usage rollup, swapped between rounds on the same tables:
 *   - `none`: no rollup (the trigger disabled): the baseline;
 *   - `statement deltas`: the module's trigger, once per statement, summing the statement's rows
 *     (its transition table) per key and inserting them as new rows: no row is locked;
 *   - `row deltas`: the textbook alternative, a trigger per row inserting one delta per row;
 *   - `statement upsert`: once per statement, one row per key updated in place (`INSERT ... SELECT
 *     ... ORDER BY key ON CONFLICT DO UPDATE`, into bench-only tables with a unique key): rows
 *     locked until the writer's transaction ends.
 */
import type { DataSource } from 'typeorm';

export const ROLLUP_VARIANTS = [
  'none',
  'statement deltas',
  'row deltas',
  'statement upsert',
] as const;
export type RollupVariant = (typeof ROLLUP_VARIANTS)[number];

const SUMS = `count(*), count(*) FILTER (WHERE success = false), sum(input_tokens), sum(output_tokens), sum(cost_usd)`;
const DAY = `(created_at AT TIME ZONE 'UTC')::date`;

const SETUP = `
  CREATE TABLE IF NOT EXISTS bench_upsert_daily (
    firm_id uuid, day date, model text, task_type text, calls bigint, failures bigint,
    input_tokens bigint, output_tokens bigint, cost_usd numeric(20,6),
    PRIMARY KEY (firm_id, day, model, task_type));
  CREATE TABLE IF NOT EXISTS bench_upsert_daily_project (
    firm_id uuid, cma_project_id uuid, day date, model text, task_type text, calls bigint,
    failures bigint, input_tokens bigint, output_tokens bigint, cost_usd numeric(20,6),
    PRIMARY KEY (firm_id, cma_project_id, day, model, task_type));
  CREATE OR REPLACE FUNCTION bench_upsert_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO bench_upsert_daily AS d
    SELECT firm_id, ${DAY}, model, task_type, ${SUMS} FROM inserted WHERE created_at IS NOT NULL
     GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (firm_id, day, model, task_type) DO UPDATE SET calls = d.calls + EXCLUDED.calls,
      failures = d.failures + EXCLUDED.failures, input_tokens = d.input_tokens + EXCLUDED.input_tokens,
      output_tokens = d.output_tokens + EXCLUDED.output_tokens, cost_usd = d.cost_usd + EXCLUDED.cost_usd;
    INSERT INTO bench_upsert_daily_project AS d
    SELECT firm_id, cma_project_id, ${DAY}, model, task_type, ${SUMS} FROM inserted
     WHERE created_at IS NOT NULL AND cma_project_id IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (firm_id, cma_project_id, day, model, task_type) DO UPDATE SET calls = d.calls + EXCLUDED.calls,
      failures = d.failures + EXCLUDED.failures, input_tokens = d.input_tokens + EXCLUDED.input_tokens,
      output_tokens = d.output_tokens + EXCLUDED.output_tokens, cost_usd = d.cost_usd + EXCLUDED.cost_usd;
    RETURN NULL;
  END $$;
  CREATE OR REPLACE FUNCTION bench_row_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.created_at IS NOT NULL THEN
      INSERT INTO llm_usage_daily (firm_id, day, model, task_type, calls, failures, input_tokens,
        output_tokens, cost_usd)
      VALUES (NEW.firm_id, (NEW.created_at AT TIME ZONE 'UTC')::date, NEW.model, NEW.task_type, 1,
        CASE WHEN NEW.success = false THEN 1 ELSE 0 END, NEW.input_tokens, NEW.output_tokens, NEW.cost_usd);
      IF NEW.cma_project_id IS NOT NULL THEN
        INSERT INTO llm_usage_daily_project (firm_id, cma_project_id, day, model, task_type, calls,
          failures, input_tokens, output_tokens, cost_usd)
        VALUES (NEW.firm_id, NEW.cma_project_id, (NEW.created_at AT TIME ZONE 'UTC')::date, NEW.model,
          NEW.task_type, 1, CASE WHEN NEW.success = false THEN 1 ELSE 0 END, NEW.input_tokens,
          NEW.output_tokens, NEW.cost_usd);
      END IF;
    END IF;
    RETURN NULL;
  END $$;
  DROP TRIGGER IF EXISTS bench_upsert_rollup ON llm_usage_log;
  CREATE TRIGGER bench_upsert_rollup AFTER INSERT ON llm_usage_log REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION bench_upsert_rollup();
  DROP TRIGGER IF EXISTS bench_row_rollup ON llm_usage_log;
  CREATE TRIGGER bench_row_rollup AFTER INSERT ON llm_usage_log
    FOR EACH ROW EXECUTE FUNCTION bench_row_rollup();`;

const TRIGGERS: Record<RollupVariant, string | null> = {
  none: null,
  'statement deltas': 'trg_llm_usage_log_rollup',
  'row deltas': 'bench_row_rollup',
  'statement upsert': 'bench_upsert_rollup',
};

/** Creates the alternatives beside the module's trigger (once per database). */
export async function createRollupVariants(db: DataSource): Promise<void> {
  await db.query(SETUP);
}

/** Enables `variant`'s trigger alone, and empties every rollup. */
export async function useRollupVariant(
  db: DataSource,
  variant: RollupVariant,
): Promise<void> {
  for (const trigger of Object.values(TRIGGERS)) {
    if (!trigger) continue;
    const on = trigger === TRIGGERS[variant];
    await db.query(
      `ALTER TABLE llm_usage_log ${on ? 'ENABLE' : 'DISABLE'} TRIGGER ${trigger}`,
    );
  }
  await db.query(
    'TRUNCATE llm_usage_daily, llm_usage_daily_project, bench_upsert_daily, bench_upsert_daily_project',
  );
}

/** The calls the variant's rollup counts, to check it kept up. */
export async function rolledUpCalls(
  db: DataSource,
  variant: RollupVariant,
): Promise<number> {
  if (variant === 'none') return 0;
  const table =
    variant === 'statement upsert' ? 'bench_upsert_daily' : 'llm_usage_daily';
  const [{ n }] = await db.query<{ n: string }[]>(
    `SELECT coalesce(sum(calls), 0) AS n FROM ${table}`,
  );
  return Number(n);
}
