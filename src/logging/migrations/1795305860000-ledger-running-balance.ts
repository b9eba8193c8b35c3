import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A row's change to its user's balance: grants and refunds add, deducts subtract. */
const SIGNED = `CASE WHEN operation = 'deduct' THEN -amount::bigint ELSE amount::bigint END`;

/** Each existing row's place and balance in its user's ledger, in (created_at, id) order. */
const RUNNING = `
  SELECT id, user_id, created_at,
         row_number() OVER w AS seq,
         sum(${SIGNED}) OVER w AS balance
    FROM "credit_transaction"
  WINDOW w AS (PARTITION BY user_id ORDER BY created_at, id
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`;

/**
 * Checks a new row against its user's ledger, and fills `seq` and `balance` when they are left
 * out. The row must continue the user's row at `seq - 1` (none for `seq` 1), and its balance must
 * be that row's (0 for the first) plus or minus its amount. The unique (user_id, seq) refuses a
 * second successor of one row, checked against committed rows whatever the inserter's snapshot;
 * the CHECK refuses a balance below zero. `schema`: the table's, quoted.
 */
const runningBalanceFunction = (schema: string) => `
  CREATE FUNCTION "credit_transaction_running_balance"() RETURNS trigger
    LANGUAGE plpgsql
    -- the table's own schema, and temporary tables last: a session's temporary table named
    -- credit_transaction must not stand in for the ledger the row is checked against
    SET search_path = pg_catalog, ${schema}, pg_temp
    AS $$
  DECLARE
    last_seq integer;
    before bigint;
    change bigint := CASE WHEN NEW.operation = 'deduct' THEN -NEW.amount::bigint
                          ELSE NEW.amount::bigint END;
  BEGIN
    SELECT t.seq, t.balance INTO last_seq, before
      FROM "credit_transaction" t
     WHERE t.user_id = NEW.user_id
     ORDER BY t.seq DESC LIMIT 1;
    IF NEW.seq IS NULL THEN
      NEW.seq := coalesce(last_seq, 0) + 1;
    END IF;
    IF NEW.seq = 1 THEN
      before := 0;
    ELSIF NEW.seq IS DISTINCT FROM last_seq + 1 THEN
      SELECT t.balance INTO before
        FROM "credit_transaction" t
       WHERE t.user_id = NEW.user_id AND t.seq = NEW.seq - 1;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'credit_transaction: seq % of user % continues no row of that user (the user''s last row is seq %)',
            NEW.seq, NEW.user_id, coalesce(last_seq, 0)
          USING ERRCODE = 'foreign_key_violation',
                CONSTRAINT = 'trg_credit_transaction_running_balance',
                HINT = 'leave seq and balance out and the database sets them; or give seq = the user''s last seq + 1';
      END IF;
    END IF;
    IF NEW.balance IS NULL THEN
      NEW.balance := before + change;
    ELSIF NEW.balance <> before + change THEN
      RAISE EXCEPTION 'credit_transaction: balance % of user % at seq % is not % (the balance before it, %, with the % of %)',
          NEW.balance, NEW.user_id, NEW.seq, before + change, before, NEW.operation, NEW.amount
        USING ERRCODE = 'check_violation',
              CONSTRAINT = 'trg_credit_transaction_running_balance',
              HINT = 'leave balance out and the database sets it';
    END IF;
    RETURN NEW;
  END
  $$`;

/**
 * The database holds the ledger's balance: a running balance chained per user.
 *
 * - `seq`: the row's place in its user's ledger, 1, 2, 3, ... with UNIQUE (user_id, seq), so one
 *   user's rows form one chain without forks. A unique index is checked against committed rows,
 *   not the inserter's snapshot: a write based on a stale view of the ledger (a REPEATABLE READ or
 *   SERIALIZABLE transaction whose snapshot predates the user's last write) is refused.
 * - `balance`: the user's balance after the row, CHECK (balance >= 0).
 * - a BEFORE INSERT trigger that refuses a row which does not continue its user's last row or whose
 *   balance is not the previous one plus or minus its amount, and fills both when left out.
 *
 * Existing rows are numbered and summed per user in (created_at, id) order. A ledger that goes
 * below zero somewhere fails the migration before anything is changed, naming the user and the
 * correction to record first.
 */
export class LedgerRunningBalance1795305860000 implements MigrationInterface {
  name = 'LedgerRunningBalance1795305860000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    const negative = (await queryRunner.query(`
      WITH running AS (${RUNNING}),
           low AS (SELECT user_id, min(balance) AS lowest FROM running GROUP BY user_id
                    HAVING min(balance) < 0)
      SELECT r.user_id, r.id, to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
             r.balance::text AS balance, low.lowest::text AS lowest,
             (SELECT count(*)::int FROM low) AS users
        FROM running r JOIN low USING (user_id)
       WHERE r.balance < 0
       ORDER BY r.user_id, r.created_at, r.id
       LIMIT 1`)) as {
      user_id: string;
      id: string;
      created_at: string;
      balance: string;
      lowest: string;
      users: number;
    }[];
    if (negative.length > 0) {
      const [first] = negative;
      const others =
        first.users > 1 ? ` (and ${first.users - 1} other user(s))` : '';
      throw new Error(
        `${this.name}: the credit ledger of user ${first.user_id}${others} goes below zero ` +
          `(balance ${first.balance} after row ${first.id} of ${first.created_at}), and a ledger that ` +
          `holds its balance cannot take it in. Nothing was changed. Record the correction first, as ` +
          `the table's owner, e.g. a grant of ${-Number(first.lowest)} credit(s) dated just before that row: ` +
          `INSERT INTO credit_transaction (user_id, operation, amount, idempotency_key, created_at) ` +
          `VALUES ('${first.user_id}', 'grant', ${-Number(first.lowest)}, 'ledger-correction', ` +
          `timestamptz '${first.created_at}' - interval '1 microsecond'); then run the migrations again.`,
      );
    }

    await queryRunner.query(
      `ALTER TABLE "credit_transaction" ADD "seq" integer, ADD "balance" bigint`,
    );
    // The append-only trigger refuses UPDATE: numbering the existing rows is the one exception.
    await queryRunner.query(
      `ALTER TABLE "credit_transaction" DISABLE TRIGGER "trg_credit_transaction_append_only"`,
    );
    await queryRunner.query(`
      UPDATE "credit_transaction" t SET seq = r.seq, balance = r.balance
        FROM (${RUNNING}) r
       WHERE t.id = r.id`);
    await queryRunner.query(
      `ALTER TABLE "credit_transaction" ENABLE TRIGGER "trg_credit_transaction_append_only"`,
    );
    await queryRunner.query(`
      ALTER TABLE "credit_transaction"
        ALTER COLUMN "seq" SET NOT NULL,
        ALTER COLUMN "balance" SET NOT NULL,
        ADD CONSTRAINT "uq_credit_transaction_user_id_seq" UNIQUE ("user_id", "seq"),
        ADD CONSTRAINT "chk_credit_transaction_seq"
          CHECK (seq >= 1),
        ADD CONSTRAINT "chk_credit_transaction_running_balance"
          CHECK (balance >= 0)`);
    const [{ schema }] = (await queryRunner.query(
      `SELECT quote_ident(current_schema()) AS schema`,
    )) as { schema: string }[];
    await queryRunner.query(runningBalanceFunction(schema));
    await queryRunner.query(`
      CREATE TRIGGER "trg_credit_transaction_running_balance"
        BEFORE INSERT ON "credit_transaction"
        FOR EACH ROW EXECUTE FUNCTION "credit_transaction_running_balance"()`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP TRIGGER "trg_credit_transaction_running_balance" ON "credit_transaction"`,
    );
    await queryRunner.query(
      `DROP FUNCTION "credit_transaction_running_balance"()`,
    );
    await queryRunner.query(`
      ALTER TABLE "credit_transaction"
        DROP CONSTRAINT "chk_credit_transaction_running_balance",
        DROP CONSTRAINT "chk_credit_transaction_seq",
        DROP CONSTRAINT "uq_credit_transaction_user_id_seq",
        DROP COLUMN "balance",
        DROP COLUMN "seq"`);
  }
}
