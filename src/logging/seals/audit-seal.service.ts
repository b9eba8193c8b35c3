import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import type { DataSource, QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import {
  LOGGING_DATA_SOURCE,
  SEAL_OPTIONS,
} from '../core/logging.constants.js';
import type { SealableLog } from './seal-encoding.js';
import { AuditSealQueryError, SealPublishError } from './seal.errors.js';
import {
  Deferral,
  NO_DEFERRAL,
  checkAnchors,
  checkFirm,
  checkInstant,
  checkLog,
  checkVerifyQuery,
} from './seal-args.js';
import { type ResolvedSealOptions } from './seal.options.js';
import type {
  Seal,
  SealAnchor,
  SealQuery,
  SealRun,
  SealVerification,
  VerifyQuery,
} from './seal.types.js';
import { SEAL_SELECT_SQL } from './seal-insert.js';
import { SEAL_LOCK_SQL, sealLog, select } from './sealer.js';
import { verifyChains } from './seal-verifier.js';
import { RUN_SELECT_SQL } from './seal-run-record.js';
import { LOG_SEAL_RUN_TABLE } from '../entities/log-seal-run.entity.js';
import { LogWriterService } from '../writer/log-writer.service.js';
import { retireMonthsBefore } from '../core/log-partitions.js';

/**
 * Hash-chained seals over each firm's `audit_log` and `llm_usage_log` rows, and their verification
 * (docs/tamper-evidence.md). Seals are made on demand with `seal()` or in the background
 * (`seals.intervalMs`), handed to `seals.onSeal` for publication outside the database, and checked
 * with `verify()`, which names the first seal whose rows or neighbours no longer match.
 */
@Injectable()
export class AuditSealService
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger('LoggingModule');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /** Set at shutdown: a background run still going stops giving way and finishes. */
  private stopping = false;

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
    /** The seal options in force, defaults merged. */
    @Inject(SEAL_OPTIONS) readonly options: ResolvedSealOptions,
    /** The writer background sealing gives way to; none outside the module (the CLI). */
    @Optional() private readonly writer?: LogWriterService,
  ) {}

  /** This process's writer has rows queued or statements in flight, and no shutdown is under way. */
  private writerBusy(): boolean {
    if (this.stopping || !this.writer) return false;
    const depths = this.writer.stats().bufferDepth;
    for (const table in depths) if (depths[table] > 0) return true;
    return false;
  }

  onApplicationBootstrap(): void {
    const { intervalMs } = this.options;
    if (intervalMs === null) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.run(
        {},
        false,
        new Deferral(() => this.writerBusy(), this.options.maxDeferMs),
      )
        .catch((error: unknown) =>
          this.logger.error(`background sealing failed: ${String(error)}`),
        )
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * Seals every firm's new rows (rows older than `seals.settleMs` after each firm's last seal, and
   * late arrivals), one seal per firm and log (more for a backlog over `seals.maxRowsPerSeal`), then
   * hands each to `seals.onSeal`. Waits while another process seals.
   *
   * @returns the seals made, in chain order per firm
   * @throws AuditSealQueryError for a firmId that is not a UUID or an unknown log
   * @throws SealPublishError when `onSeal` fails: the seals are committed, and listed on the error
   * @example
   * const seals = await auditSeals.seal({ firmId });
   */
  async seal(query: SealQuery = {}): Promise<Seal[]> {
    checkFirm('seal', query.firmId, false);
    checkLog('seal', query.log);
    return (await this.run(query, true, NO_DEFERRAL)) ?? [];
  }

  /**
   * One sealing run; without `wait`, gives up when another sealer holds the lock. It gives way to
   * the writer as `deferral` says: before it starts, before each log and between chunks of rows.
   */
  private async run(
    query: SealQuery,
    wait: boolean,
    deferral: Pick<Deferral, 'giveWay'>,
  ): Promise<Seal[] | undefined> {
    await deferral.giveWay();
    const made = await this.locked(wait, async (runner) => {
      const seals: Seal[] = [];
      const runs: SealRun[] = [];
      for (const log of query.log ? [query.log] : this.options.logs) {
        await deferral.giveWay();
        await runner.startTransaction('REPEATABLE READ');
        try {
          const ran = await sealLog(
            runner,
            log,
            query.firmId,
            this.options,
            () => deferral.giveWay(),
          );
          await runner.commitTransaction();
          seals.push(...ran.seals);
          runs.push(ran.run);
        } catch (error) {
          await runner.rollbackTransaction();
          throw error;
        }
      }
      return { seals, runs };
    });
    if (made) await this.publish(made.seals, made.runs);
    return made?.seals;
  }

  /** Hands each run's seals to `onSeal`, in chain order, then the run to `onRun`. */
  private async publish(seals: Seal[], runs: SealRun[]): Promise<void> {
    const { onSeal, onRun } = this.options;
    const fail = (what: string, again: string, error: unknown) => {
      this.logger.error(`${what} failed: ${String(error)}`);
      return new SealPublishError(
        `${what} failed; it is committed: publish it from ${again}`,
        seals,
        { cause: error },
      );
    };
    for (const run of runs) {
      for (const seal of onSeal ? seals : []) {
        if (seal.log !== run.log) continue;
        await Promise.resolve(onSeal!(seal)).catch((error: unknown) => {
          throw fail(
            `onSeal for ${seal.log} seal ${seal.seq} of firm ${seal.firmId}`,
            'list()',
            error,
          );
        });
      }
      if (!onRun) continue;
      await Promise.resolve(onRun(run)).catch((error: unknown) => {
        throw fail(`onRun for ${run.log} run ${run.seq}`, 'listRuns()', error);
      });
    }
  }

  /** Runs `fn` on a connection of its own holding the sealers' advisory lock. */
  private async locked<T>(
    wait: boolean,
    fn: (runner: QueryRunner) => Promise<T>,
  ): Promise<T | undefined> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await select<{ locked: boolean }>(
        runner,
        wait
          ? `SELECT pg_advisory_lock(${SEAL_LOCK_SQL}) IS NOT NULL AS locked`
          : `SELECT pg_try_advisory_lock(${SEAL_LOCK_SQL}) AS locked`,
      );
      if (!locked) return undefined;
      try {
        return await fn(runner);
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(${SEAL_LOCK_SQL})`);
      }
    } finally {
      await runner.release();
    }
  }

  /**
   * Recomputes a firm's chain over one log and reports the first seal whose rows or neighbours no
   * longer match, with what changed where it can be known: a row edited, rows missing or inserted,
   * a seal edited or removed. Give the digests published by `onSeal` as `anchors` to catch a chain
   * rewritten or cut short by someone who can write to the database.
   *
   * @throws AuditSealQueryError for a firmId that is not a UUID, an unknown log, bad dates or anchors
   * @example
   * const verdict = await auditSeals.verify({ firmId, anchors: [{ seq: 42, digest }] });
   * if (!verdict.ok) console.error(verdict.problem?.message);
   */
  async verify(query: VerifyQuery): Promise<SealVerification> {
    const checked = checkVerifyQuery(query);
    const [verdict] = await this.dataSource.transaction(
      'REPEATABLE READ',
      (manager) =>
        verifyChains(manager, query.log ?? 'audit_log', query.firmId, {
          ...checked,
          lateWindowMs: this.options.lateWindowMs,
        }),
    );
    return verdict;
  }

  /**
   * Verifies the chain of every firm with seals over one log, as `verify()` does for one firm, in
   * one pass over the log: the way to check a whole trail (per-firm calls each read the firm's
   * rows, which lie on nearly every page of the table).
   *
   * @throws AuditSealQueryError for an unknown log
   * @example
   * const failed = (await auditSeals.verifyAll()).filter((verdict) => !verdict.ok);
   */
  async verifyAll(
    query: { log?: SealableLog; runAnchors?: SealAnchor[] } = {},
  ): Promise<SealVerification[]> {
    checkLog('verifyAll', query?.log);
    const runAnchors = checkAnchors(
      'verifyAll',
      'runAnchors',
      query?.runAnchors,
    );
    return this.dataSource.transaction('REPEATABLE READ', (manager) =>
      verifyChains(manager, query?.log ?? 'audit_log', undefined, {
        runAnchors,
        lateWindowMs: this.options.lateWindowMs,
      }),
    );
  }

  /**
   * The runs over one log, in order, from `fromSeq` on: to publish again, or to hand an auditor.
   *
   * @throws AuditSealQueryError for an unknown log or a fromSeq that is not a positive integer
   */
  async listRuns(
    query: { log?: SealableLog; fromSeq?: number } = {},
  ): Promise<SealRun[]> {
    checkLog('listRuns', query?.log);
    const fromSeq = query?.fromSeq ?? 1;
    if (!Number.isInteger(fromSeq) || fromSeq < 1) {
      throw new AuditSealQueryError(
        'listRuns: fromSeq must be a positive integer',
      );
    }
    return this.dataSource.query<SealRun[]>(
      `SELECT ${RUN_SELECT_SQL} FROM ${LOG_SEAL_RUN_TABLE}
        WHERE log = $1 AND seq >= $2 ORDER BY seq`,
      [query?.log ?? 'audit_log', fromSeq],
    );
  }

  /**
   * The seals of a firm's chain over one log, in order: to publish again, or to hand an auditor.
   *
   * @throws AuditSealQueryError for a firmId that is not a UUID or an unknown log
   */
  async list(query: { firmId: string; log?: SealableLog }): Promise<Seal[]> {
    checkFirm('list', query?.firmId, true);
    checkLog('list', query.log);
    return this.dataSource.query<Seal[]>(
      `SELECT ${SEAL_SELECT_SQL} FROM ${LOG_SEAL_TABLE}
        WHERE log = $1 AND firm_id = $2 ORDER BY seq`,
      [query.log ?? 'audit_log', query.firmId],
    );
  }

  /**
   * Retention for a sealed log: deletes, for every firm, the rows of the seals whose range ends
   * before `olderThan`, whole seals only, together with those seals, and leaves one tombstone seal
   * with the last one's digest so the chain still verifies (`logging_purge_sealed()`). Late arrivals
   * are sealed first; rows not sealed yet are kept. A partitioned log's whole months before
   * `olderThan` leave first, by their partitions with the same tombstones (docs/partitions.md).
   *
   * @returns how many rows and seals were purged
   * @throws AuditSealQueryError for an unknown log or a bad date
   */
  async purge(
    log: SealableLog,
    olderThan: Date,
  ): Promise<{ rows: number; seals: number }> {
    checkLog('purge', log);
    if (log === undefined)
      throw new AuditSealQueryError('purge: log is required');
    checkInstant('purge', 'olderThan', olderThan);
    if (olderThan === undefined)
      throw new AuditSealQueryError('purge: olderThan is required');
    await this.seal({ log });
    const months = await retireMonthsBefore(this.dataSource, log, olderThan);
    const purged = await this.locked(true, async (runner) => {
      const targets = await select<{
        firmId: string;
        seq: number;
        seals: number;
      }>(
        runner,
        `SELECT firm_id AS "firmId", max(seq) AS seq, count(*) FILTER (WHERE kind = 'seal')::int AS seals
           FROM ${LOG_SEAL_TABLE} WHERE log = $1 AND to_created_at < $2
          GROUP BY firm_id HAVING count(*) FILTER (WHERE kind = 'seal') > 0`,
        [log, olderThan],
      );
      let rows = 0;
      for (const { firmId, seq } of targets) {
        const [{ deleted }] = await select<{ deleted: string }>(
          runner,
          'SELECT logging_purge_sealed($1::regclass, $2, $3) AS deleted',
          [log, firmId, seq],
        );
        rows += Number(deleted);
      }
      const seals = [...months, ...targets].reduce((n, t) => n + t.seals, 0);
      for (const m of months) rows += m.dropped + m.deleted;
      return { rows, seals };
    });
    this.logger.log(
      `${log}: ${purged!.rows} sealed rows in ${purged!.seals} seals before ${olderThan.toISOString()} purged`,
    );
    return purged!;
  }
}
