import type { DataSource } from 'typeorm';
import { computeCostUsd, MODEL_PRICES } from '../logging/pricing.js';

/** A firm of the demo, with the user and project its history is attributed to. */
export interface HistoryFirm {
  firmId: string;
  userId: string;
  projectId: string;
}

const MODELS = ['gemini-2.0-flash', 'gemini-3-flash', 'gemini-3.1-pro'];
const TASKS = ['extraction', 'classification', 'validation', 'fallback'];
const ACTIONS = [
  'upload_file',
  'run_extraction',
  'resolve_review',
  'download_cma',
] as const;
const ENTITY: Record<(typeof ACTIONS)[number], string> = {
  upload_file: 'uploaded_file',
  run_extraction: 'cma_project',
  resolve_review: 'review_item',
  download_cma: 'generated_file',
};
const FAILURE =
  '503 UNAVAILABLE: model is overloaded (request to https://generativelanguage.googleapis.com/v1beta/models/gemini-3.1-pro:generateContent?key=[REDACTED])';

/** A deterministic pseudo-random sequence, so every demo run draws the same history. */
function sequence(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 2 ** 32;
  };
}

const column = <T>(rows: T[][], i: number) => rows.map((row) => row[i]);

/**
 * Backfills `days` days of LLM calls and audited actions before `until` for each firm, so the
 * dashboard has a month to show: the demo's stand-in for a month of real use. Written with plain
 * INSERTs (the tables are append-only, not insert-only for their owner), each call's cost computed
 * by the module's own price table.
 */
export async function seedUsageHistory(
  dataSource: DataSource,
  firms: HistoryFirm[],
  until: Date,
  days = 30,
): Promise<{ calls: number; actions: number }> {
  const random = sequence(20261129);
  const calls: unknown[][] = [];
  const actions: unknown[][] = [];
  const start = Date.UTC(
    until.getUTCFullYear(),
    until.getUTCMonth(),
    until.getUTCDate() - days,
  );
  firms.forEach((firm, f) => {
    for (let day = 0; day < days; day++) {
      const weekday = new Date(start + day * 86400e3).getUTCDay();
      const busy = weekday === 0 || weekday === 6 ? 0.35 : 1;
      const at = () =>
        new Date(start + day * 86400e3 + (7 + random() * 12) * 3600e3);
      const perDay = Math.round((6 + random() * 10) * busy * (f ? 0.6 : 1));
      for (let i = 0; i < perDay; i++) {
        const model = MODELS[Math.floor(random() * random() * MODELS.length)];
        const failed = random() < 0.04;
        const inputTokens = failed ? 0 : 2000 + Math.floor(random() * 60000);
        const outputTokens = failed ? 0 : 200 + Math.floor(random() * 6000);
        const cost = computeCostUsd(MODEL_PRICES[model], {
          inputTokens,
          outputTokens,
        });
        calls.push([
          firm.firmId,
          firm.projectId,
          model,
          TASKS[Math.floor(random() * (failed ? 4 : 3))],
          inputTokens,
          outputTokens,
          cost,
          400 + Math.floor(random() * 9000),
          !failed,
          failed ? FAILURE.replace('gemini-3.1-pro', model) : null,
          at(),
        ]);
      }
      for (let i = 0; i < Math.round(perDay / 2); i++) {
        const action = ACTIONS[Math.floor(random() * ACTIONS.length)];
        actions.push([
          firm.firmId,
          firm.userId,
          action,
          ENTITY[action],
          action === 'run_extraction' ? firm.projectId : crypto.randomUUID(),
          JSON.stringify({ outcome: 'success', pages: 1 + (i % 40) }),
          `10.0.${f}.${1 + (i % 200)}`,
          at(),
        ]);
      }
    }
  });
  await dataSource.query(
    `INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
            output_tokens, cost_usd, latency_ms, success, error_message, created_at)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::int[],
            $7::numeric[], $8::int[], $9::boolean[], $10::text[], $11::timestamptz[])`,
    Array.from({ length: 11 }, (_, i) => column(calls, i)),
  );
  await dataSource.query(
    `INSERT INTO audit_log (firm_id, user_id, action, entity_type, entity_id, metadata,
            ip_address, created_at)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[],
            $6::jsonb[], $7::text[], $8::timestamptz[])`,
    Array.from({ length: 8 }, (_, i) => column(actions, i)),
  );
  return { calls: calls.length, actions: actions.length };
}
