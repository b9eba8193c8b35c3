import { setTimeout as sleep } from 'node:timers/promises';
import type { QueryRunner } from 'typeorm';
import {
  LogPartitionError,
  type PartitionedLogName,
} from '../core/log-partitions.js';
import type {
  PartitionConversionProgress,
  PartitionConversionResult,
  ResolvedConversionOptions,
} from './partition-conversion.options.js';
import {
  type IndexPlan,
  indexPlans,
  preparePartitioned,
  type Query,
  quote,
  suffixed,
} from './partition-table.js';

/** PostgreSQL's answer to a lock not granted within lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';
const FOREIGN_KEY_VIOLATION = '23503';

/**
 * The conversion of one log, on the connection of `partitionLogs` (which holds the locks that keep
 * purges, seal runs and other conversions away): the partitioned table beside it, the queue, the
 * copy, the swap.
 */
export class Conversion {
  private readonly partitioned: string;
  private readonly queue: string;
  private readonly trigger: string;
  private readonly old: string;
  private copied = 0;
  private queued = 0;

  constructor(
    private readonly runner: QueryRunner,
    private readonly log: PartitionedLogName,
    private readonly options: ResolvedConversionOptions,
  ) {
    this.partitioned = `${log}__partitioned`;
    this.queue = `${log}__copy_queue`;
    this.trigger = `trg_${log}_partition_copy`;
    this.old = `${log}__unpartitioned`;
  }

  private q<T>(sql: string, parameters?: unknown[]): Promise<T[]> {
    return this.runner.query(sql, parameters) as Promise<T[]>;
  }

  private progress(phase: PartitionConversionProgress['phase']): void {
    this.options.onProgress?.({
      log: this.log,
      phase,
      copied: this.copied,
      queued: this.queued,
    });
  }

  async run(): Promise<PartitionConversionResult> {
    const started = performance.now();
    const [table] = await this.q<{ kind: string; owner: string; me: string }>(
      `SELECT c.relkind AS kind, pg_catalog.pg_get_userbyid(c.relowner) AS owner, current_user AS me
         FROM pg_catalog.pg_class c WHERE c.oid = to_regclass($1)`,
      [this.log],
    );
    if (!table) {
      throw new LogPartitionError(
        `partitionLogs: ${this.log} does not exist: run the migrations first`,
      );
    }
    const base = {
      log: this.log,
      copied: 0,
      queued: 0,
      months: 0,
      swapAttempts: 0,
      swapMs: 0,
    };
    if (table.kind === 'p') {
      return { ...base, converted: false, ms: 0 };
    }
    if (table.owner !== table.me) {
      throw new LogPartitionError(
        `partitionLogs: ${this.log} is owned by ${table.owner}, and the conversion runs as ${table.me}: run it as the owner of the logs (the role that runs the migrations)`,
      );
    }
    await this.clearLeftovers();
    const q: Query = (sql, parameters) => this.q(sql, parameters);
    const indexes = await indexPlans(q, this.log, this.partitioned);
    const months = await preparePartitioned(
      q,
      this.log,
      this.partitioned,
      indexes,
      this.options.monthsAhead,
    );
    this.progress('prepared');
    await this.installQueue();
    await this.copyRange();
    const swap = await this.swap(indexes);
    this.progress('swapped');
    let keptAs: string | undefined;
    if (this.options.keepUnpartitioned) {
      keptAs = this.old;
    } else {
      await this.locked(() => this.q(`DROP TABLE ${quote(this.old)}`));
    }
    await this.q(`ANALYZE ${quote(this.log)}`);
    this.progress('done');
    return {
      ...base,
      converted: true,
      copied: this.copied,
      queued: this.queued,
      months,
      ...swap,
      ms: Math.round(performance.now() - started),
      keptAs,
    };
  }

  /** What an interrupted conversion left: none of it is in use. */
  private async clearLeftovers(): Promise<void> {
    const [{ trigger }] = await this.q<{ trigger: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                       WHERE tgrelid = to_regclass($1) AND tgname = $2) AS trigger`,
      [this.log, this.trigger],
    );
    if (trigger) {
      await this.locked(() =>
        this.q(`DROP TRIGGER ${quote(this.trigger)} ON ${quote(this.log)}`),
      );
    }
    await this.q(`DROP TABLE IF EXISTS ${quote(this.partitioned)}`);
    await this.q(`DROP TABLE IF EXISTS ${quote(this.queue)}`);
  }

  /** From here on, the ids of the rows inserted into the log are queued for the copy. */
  private async installQueue(): Promise<void> {
    await this.q(`CREATE TABLE ${quote(this.queue)} (id uuid NOT NULL)`);
    await this.locked(() =>
      this.q(
        `CREATE TRIGGER ${quote(this.trigger)} AFTER INSERT ON ${quote(this.log)}
           REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
           EXECUTE FUNCTION logging_partition_copy_queue(${quoteLiteral(this.queue)})`,
      ),
    );
  }

  /**
   * Copies the rows that were there when the queue began, in id order, a batch per transaction:
   * every one of them has an id at or below the highest id then. The queue is copied as it fills.
   */
  private async copyRange(): Promise<void> {
    const { log, partitioned } = this;
    const [top] = await this.q<{ id: string }>(
      `SELECT id FROM ${quote(log)} ORDER BY id DESC LIMIT 1`,
    );
    let after: string | null = null;
    while (top) {
      const started = performance.now();
      const [batch] = await this.withRetries(() =>
        this.q<{ last: string | null; n: number }>(
          `WITH b AS (
             SELECT * FROM ${quote(log)}
              WHERE ${after === null ? 'true' : 'id > $3::uuid'} AND id <= $1::uuid
              ORDER BY id LIMIT $2
           ), copied AS (
             INSERT INTO ${quote(partitioned)} SELECT * FROM b ON CONFLICT (id) DO NOTHING
           )
           SELECT (SELECT id FROM b ORDER BY id DESC LIMIT 1) AS last, (SELECT count(*) FROM b)::int AS n`,
          after === null
            ? [top.id, this.options.batchSize]
            : [top.id, this.options.batchSize, after],
        ),
      );
      this.copied += batch.n;
      const took = performance.now() - started;
      await this.drainQueue();
      this.progress('copying');
      if (batch.n < this.options.batchSize || batch.last === null) break;
      after = batch.last;
      const { copyShare, pauseMs } = this.options;
      const pause = Math.max(pauseMs, (took * (1 - copyShare)) / copyShare);
      if (pause > 0) await sleep(pause);
    }
    await this.drainQueue();
  }

  /**
   * Copies the rows whose ids the trigger queued, ten batches' worth a statement, until the queue
   * is empty; a row gone since (its firm deleted) is skipped. Never paused: the copy keeps up with
   * the application's writes, whatever their rate, so that the conversion ends.
   */
  private async drainQueue(): Promise<void> {
    const chunk = 10 * this.options.batchSize;
    for (;;) {
      const [{ n }] = await this.withRetries(() =>
        this.q<{ n: number }>(
          `WITH q AS (
             DELETE FROM ${quote(this.queue)}
              WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${quote(this.queue)} LIMIT $1))
             RETURNING id
           ), copied AS (
             INSERT INTO ${quote(this.partitioned)}
             SELECT t.* FROM ${quote(this.log)} t WHERE t.id IN (SELECT id FROM q)
             ON CONFLICT (id) DO NOTHING
           )
           SELECT count(*)::int AS n FROM q`,
          [chunk],
        ),
      );
      this.queued += n;
      if (n < chunk) return;
    }
  }

  /**
   * The swap, in one transaction under lock_timeout: the rest of the queue, the names, the
   * triggers and the grants. Tried again while its lock is not granted in time.
   */
  private async swap(
    indexes: IndexPlan[],
  ): Promise<{ swapAttempts: number; swapMs: number }> {
    const { log, partitioned, old } = this;
    const triggers = await this.q<{ definition: string }>(
      `SELECT pg_catalog.pg_get_triggerdef(oid) AS definition FROM pg_catalog.pg_trigger
        WHERE tgrelid = to_regclass($1) AND NOT tgisinternal AND tgname <> $2 ORDER BY tgname`,
      [log, this.trigger],
    );
    const grants = await this.q<{ statement: string }>(
      `SELECT format('GRANT %s ON %I TO %s%s', a.privilege_type, $1::text,
                     CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                     CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) AS statement
         FROM pg_catalog.pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner`,
      [log],
    );
    await this.drainQueue();
    let attempts = 0;
    for (;;) {
      attempts++;
      await this.runner.startTransaction();
      try {
        await this.q(`SELECT set_config('lock_timeout', $1, true)`, [
          `${this.options.lockTimeoutMs}ms`,
        ]);
        await this.q(
          `LOCK TABLE ${quote(log)}, ${quote(partitioned)} IN ACCESS EXCLUSIVE MODE`,
        );
        const held = performance.now();
        await this.drainQueue();
        await this.q(`DROP TRIGGER ${quote(this.trigger)} ON ${quote(log)}`);
        await this.q(`ALTER TABLE ${quote(log)} RENAME TO ${quote(old)}`);
        for (const { name } of indexes) {
          await this.q(
            `ALTER INDEX ${quote(name)} RENAME TO ${quote(suffixed(name, '__unpartitioned'))}`,
          );
        }
        await this.q(
          `ALTER TABLE ${quote(partitioned)} RENAME TO ${quote(log)}`,
        );
        for (const { name, temporary } of indexes) {
          await this.q(
            `ALTER INDEX ${quote(temporary)} RENAME TO ${quote(name)}`,
          );
        }
        for (const { definition } of triggers) await this.q(definition);
        for (const { statement } of grants) await this.q(statement);
        await this.q(`DROP TABLE ${quote(this.queue)}`);
        await this.runner.commitTransaction();
        return {
          swapAttempts: attempts,
          swapMs: Math.round(performance.now() - held),
        };
      } catch (error) {
        await this.runner.rollbackTransaction();
        if (
          (error as { code?: string }).code !== LOCK_NOT_AVAILABLE ||
          attempts >= this.options.lockAttempts
        ) {
          throw this.lockError(error, 'swap');
        }
        await this.drainQueue();
        await sleep(20 * attempts);
      }
    }
  }

  /** Runs `statement` under lock_timeout in a transaction of its own, asking again until granted. */
  private async locked(statement: () => Promise<unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.runner.startTransaction();
      try {
        await this.q(`SELECT set_config('lock_timeout', $1, true)`, [
          `${this.options.lockTimeoutMs}ms`,
        ]);
        await statement();
        await this.runner.commitTransaction();
        return;
      } catch (error) {
        await this.runner.rollbackTransaction();
        if (
          (error as { code?: string }).code !== LOCK_NOT_AVAILABLE ||
          attempt >= this.options.lockAttempts
        ) {
          throw this.lockError(error, 'lock');
        }
        await sleep(20 * attempt);
      }
    }
  }

  /**
   * Runs a copy statement again when a foreign key refuses a row: its firm, user or project was
   * deleted between the read and the write, and the next read no longer has it (or has it nulled).
   */
  private async withRetries<T>(statement: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await statement();
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== FOREIGN_KEY_VIOLATION || attempt >= 5) throw error;
      }
    }
  }

  private lockError(error: unknown, what: string): unknown {
    if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) return error;
    return new LogPartitionError(
      `partitionLogs: ${this.log}: the ${what} was not granted within ${this.options.lockTimeoutMs} ms, ${this.options.lockAttempts} times; the log is left as it was: run the conversion again when it is quieter, or raise lockTimeoutMs`,
      { cause: error },
    );
  }
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
