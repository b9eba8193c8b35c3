import type { DataSource } from 'typeorm';
import { openTestDataSource, TEST_LAYOUT } from './support/database.js';

/**
 * The migrated schema, read back from pg_catalog, against the table spec
 * (shared/seeds/000_ad84d8e79b694542.txt): columns in order with type, nullability and default;
 * constraints with their definitions; the six spec indexes and the reports indexes on llm_usage_log
 * (firm_id, created_at) and (firm_id, cost_usd DESC, ...); no row-level security. The jest project
 * `partitioned` checks the same on logs partitioned by month (docs/partitions.md): an index of a
 * partitioned table reads `ON ONLY` the table, each partition having its own.
 */

interface ColumnRow {
  name: string;
  type: string;
  not_null: boolean;
  default: string | null;
}

async function columnsOf(
  dataSource: DataSource,
  table: string,
): Promise<ColumnRow[]> {
  return dataSource.query(
    `SELECT a.attname AS name,
            format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null,
            pg_get_expr(d.adbin, d.adrelid) AS default
       FROM pg_attribute a
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table],
  );
}

async function constraintsOf(
  dataSource: DataSource,
  table: string,
): Promise<Record<string, string>> {
  const rows: { name: string; definition: string }[] = await dataSource.query(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS definition
       FROM pg_constraint
      -- PostgreSQL 18 lists NOT NULL as constraints too; nullability is checked per column.
      WHERE conrelid = $1::regclass AND contype <> 'n'
      ORDER BY conname`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.definition]));
}

async function indexesOf(
  dataSource: DataSource,
  table: string,
): Promise<Record<string, string>> {
  const rows: { name: string; definition: string }[] = await dataSource.query(
    `SELECT indexname AS name, indexdef AS definition
       FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1
      ORDER BY indexname`,
    [table],
  );
  return Object.fromEntries(
    rows.map((r) => [r.name, r.definition.replace(' ON ONLY ', ' ON ')]),
  );
}

const col = (
  name: string,
  type: string,
  notNull: boolean,
  dflt: string | null = null,
): ColumnRow => ({ name, type, not_null: notNull, default: dflt });

describe('migrated schema', () => {
  let dataSource: DataSource;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ dataSource, close } = await openTestDataSource());
  });
  afterAll(() => close());

  describe('llm_usage_log', () => {
    it('has exactly the spec columns, in order, with type, nullability and default', async () => {
      expect(await columnsOf(dataSource, 'llm_usage_log')).toEqual([
        col('id', 'uuid', true, 'gen_random_uuid()'),
        col('firm_id', 'uuid', true),
        col('cma_project_id', 'uuid', false),
        col('model', 'text', true),
        col('task_type', 'text', true),
        col('input_tokens', 'integer', true),
        col('output_tokens', 'integer', true),
        col('cost_usd', 'numeric(10,6)', true),
        col('latency_ms', 'integer', false),
        col('success', 'boolean', false, 'true'),
        col('error_message', 'text', false),
        col('created_at', 'timestamp with time zone', false, 'now()'),
      ]);
    });

    it('has the primary key, the task_type CHECK and both foreign keys with their ON DELETE actions', async () => {
      const constraints = await constraintsOf(dataSource, 'llm_usage_log');
      expect(Object.keys(constraints)).toEqual([
        'chk_llm_usage_log_task_type',
        'fk_llm_usage_log_cma_project_id',
        'fk_llm_usage_log_firm_id',
        'pk_llm_usage_log',
      ]);
      expect(constraints.pk_llm_usage_log).toBe('PRIMARY KEY (id)');
      expect(constraints.fk_llm_usage_log_firm_id).toBe(
        'FOREIGN KEY (firm_id) REFERENCES firms(id) ON DELETE CASCADE',
      );
      expect(constraints.fk_llm_usage_log_cma_project_id).toBe(
        'FOREIGN KEY (cma_project_id) REFERENCES cma_projects(id) ON DELETE SET NULL',
      );
      const check = constraints.chk_llm_usage_log_task_type;
      expect(check).toMatch(/^CHECK \(\(task_type = ANY \(ARRAY\[/);
      const allowed = [...check.matchAll(/'([a-z_]+)'::text/g)].map(
        (m) => m[1],
      );
      expect(allowed).toEqual([
        'extraction',
        'classification',
        'validation',
        'fallback',
      ]);
    });

    it('has the three spec indexes and the reports index (firm_id, created_at) besides the primary key', async () => {
      expect(await indexesOf(dataSource, 'llm_usage_log')).toEqual({
        pk_llm_usage_log:
          'CREATE UNIQUE INDEX pk_llm_usage_log ON public.llm_usage_log USING btree (id)',
        idx_llm_usage_log_firm_id:
          'CREATE INDEX idx_llm_usage_log_firm_id ON public.llm_usage_log USING btree (firm_id)',
        idx_llm_usage_log_cma_project_id:
          'CREATE INDEX idx_llm_usage_log_cma_project_id ON public.llm_usage_log USING btree (cma_project_id)',
        idx_llm_usage_log_created_at:
          'CREATE INDEX idx_llm_usage_log_created_at ON public.llm_usage_log USING btree (created_at)',
        // Beyond the spec: the usage reports' index (see README, "Usage reports").
        idx_llm_usage_log_firm_id_created_at:
          'CREATE INDEX idx_llm_usage_log_firm_id_created_at ON public.llm_usage_log USING btree (firm_id, created_at)',
        // Beyond the spec: the most expensive calls' order (docs/reports.md).
        idx_llm_usage_log_firm_id_cost_usd:
          'CREATE INDEX idx_llm_usage_log_firm_id_cost_usd ON public.llm_usage_log USING btree (firm_id, cost_usd DESC, created_at DESC NULLS LAST, id DESC)',
      });
    });
  });

  describe('audit_log', () => {
    it('has exactly the spec columns, in order, with type, nullability and default', async () => {
      expect(await columnsOf(dataSource, 'audit_log')).toEqual([
        col('id', 'uuid', true, 'gen_random_uuid()'),
        col('firm_id', 'uuid', true),
        col('user_id', 'uuid', false),
        col('action', 'text', true),
        col('entity_type', 'text', true),
        col('entity_id', 'uuid', false),
        col('metadata', 'jsonb', false),
        col('ip_address', 'text', false),
        col('created_at', 'timestamp with time zone', false, 'now()'),
      ]);
    });

    it('has the primary key and both foreign keys with their ON DELETE actions, and no CHECK', async () => {
      expect(await constraintsOf(dataSource, 'audit_log')).toEqual({
        fk_audit_log_firm_id:
          'FOREIGN KEY (firm_id) REFERENCES firms(id) ON DELETE CASCADE',
        fk_audit_log_user_id:
          'FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL',
        pk_audit_log: 'PRIMARY KEY (id)',
      });
    });

    it('has the three spec indexes and the trail index (firm_id, created_at) besides the primary key', async () => {
      expect(await indexesOf(dataSource, 'audit_log')).toEqual({
        pk_audit_log:
          'CREATE UNIQUE INDEX pk_audit_log ON public.audit_log USING btree (id)',
        idx_audit_log_firm_id:
          'CREATE INDEX idx_audit_log_firm_id ON public.audit_log USING btree (firm_id)',
        idx_audit_log_created_at:
          'CREATE INDEX idx_audit_log_created_at ON public.audit_log USING btree (created_at)',
        idx_audit_log_action:
          'CREATE INDEX idx_audit_log_action ON public.audit_log USING btree (action)',
        // Beyond the spec: a firm's trail, newest first (docs/auditing.md, the trail).
        idx_audit_log_firm_id_created_at:
          'CREATE INDEX idx_audit_log_firm_id_created_at ON public.audit_log USING btree (firm_id, created_at)',
      });
    });
  });

  describe('credit_transaction', () => {
    it("has the seed's columns, the idempotency key, the refunded deduct and the running balance, with type, nullability and default", async () => {
      expect(await columnsOf(dataSource, 'credit_transaction')).toEqual([
        col('id', 'uuid', true, 'gen_random_uuid()'),
        col('user_id', 'uuid', true),
        col('operation', 'credit_operation_type', true),
        col('feature', 'credit_feature_type', false),
        col('amount', 'integer', true),
        col('refund_of', 'uuid', false),
        col('idempotency_key', 'text', true),
        col('metadata', 'jsonb', false),
        col('created_at', 'timestamp with time zone', true, 'now()'),
        col('seq', 'integer', true),
        col('balance', 'bigint', true),
      ]);
    });

    it('has the primary key, the foreign keys, the unique idempotency key and place, and the CHECKs', async () => {
      expect(await constraintsOf(dataSource, 'credit_transaction')).toEqual({
        chk_credit_transaction_amount: 'CHECK ((amount > 0))',
        chk_credit_transaction_feature:
          "CHECK (((operation = 'grant'::credit_operation_type) = (feature IS NULL)))",
        chk_credit_transaction_idempotency_key:
          'CHECK (((char_length(idempotency_key) >= 1) AND (char_length(idempotency_key) <= 128)))',
        chk_credit_transaction_refund_of:
          "CHECK (((operation = 'refund'::credit_operation_type) = (refund_of IS NOT NULL)))",
        chk_credit_transaction_running_balance: 'CHECK ((balance >= 0))',
        chk_credit_transaction_seq: 'CHECK ((seq >= 1))',
        fk_credit_transaction_refund_of:
          'FOREIGN KEY (refund_of) REFERENCES credit_transaction(id)',
        fk_credit_transaction_user_id:
          'FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE',
        pk_credit_transaction: 'PRIMARY KEY (id)',
        uq_credit_transaction_user_id_idempotency_key:
          'UNIQUE (user_id, idempotency_key)',
        uq_credit_transaction_user_id_seq: 'UNIQUE (user_id, seq)',
      });
    });

    it("has the seed's three indexes and one on refund_of besides the primary key and the unique keys", async () => {
      expect(await indexesOf(dataSource, 'credit_transaction')).toEqual({
        pk_credit_transaction:
          'CREATE UNIQUE INDEX pk_credit_transaction ON public.credit_transaction USING btree (id)',
        uq_credit_transaction_user_id_idempotency_key:
          'CREATE UNIQUE INDEX uq_credit_transaction_user_id_idempotency_key ON public.credit_transaction USING btree (user_id, idempotency_key)',
        uq_credit_transaction_user_id_seq:
          'CREATE UNIQUE INDEX uq_credit_transaction_user_id_seq ON public.credit_transaction USING btree (user_id, seq)',
        idx_credit_transaction_user_id:
          'CREATE INDEX idx_credit_transaction_user_id ON public.credit_transaction USING btree (user_id)',
        idx_credit_transaction_created_at:
          'CREATE INDEX idx_credit_transaction_created_at ON public.credit_transaction USING btree (created_at)',
        idx_credit_transaction_user_id_created_at:
          'CREATE INDEX idx_credit_transaction_user_id_created_at ON public.credit_transaction USING btree (user_id, created_at)',
        idx_credit_transaction_refund_of:
          'CREATE INDEX idx_credit_transaction_refund_of ON public.credit_transaction USING btree (refund_of)',
      });
    });
  });

  it(`lays the logs out as the ${TEST_LAYOUT} layout: ${TEST_LAYOUT === 'partitioned' ? 'range-partitioned on id' : 'one table each'}`, async () => {
    const rows: { table: string; key: string | null }[] =
      await dataSource.query(
        `SELECT c.relname AS "table", pg_get_partkeydef(c.oid) AS key
           FROM pg_class c WHERE c.oid IN ('audit_log'::regclass, 'llm_usage_log'::regclass)
          ORDER BY 1`,
      );
    const key = TEST_LAYOUT === 'partitioned' ? 'RANGE (id)' : null;
    expect(rows).toEqual([
      { table: 'audit_log', key },
      { table: 'llm_usage_log', key },
    ]);
  });

  it('enables no row-level security on the logs or the ledger', async () => {
    const rows: { relname: string; rls: boolean; forced: boolean }[] =
      await dataSource.query(
        `SELECT relname, relrowsecurity AS rls, relforcerowsecurity AS forced
           FROM pg_class WHERE relname IN ('llm_usage_log', 'audit_log', 'credit_transaction')
          ORDER BY relname`,
      );
    expect(rows).toEqual([
      { relname: 'audit_log', rls: false, forced: false },
      { relname: 'credit_transaction', rls: false, forced: false },
      { relname: 'llm_usage_log', rls: false, forced: false },
    ]);
    const policies: unknown[] = await dataSource.query(
      `SELECT policyname FROM pg_policies
        WHERE tablename IN ('llm_usage_log', 'audit_log', 'credit_transaction')`,
    );
    expect(policies).toEqual([]);
  });
});
