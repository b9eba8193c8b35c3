import { AuditSealQueryError } from './seal.errors.js';
import { SEALABLE_LOGS, type SealableLog } from './seal-encoding.js';
import type { SealAnchor, VerifyQuery } from './seal.types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_DIGEST = /^[0-9a-f]{64}$/i;
/** How long background sealing sleeps between two looks at a busy writer. */
const DEFER_POLL_MS = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The waits of one background sealing run: while `busy()`, sleep, until `budgetMs` of waiting in
 * all is spent; from then on, none.
 */
export class Deferral {
  private spent = 0;

  constructor(
    private readonly busy: () => boolean,
    private readonly budgetMs: number,
  ) {}

  /** Resolves once the writer is idle, or at once when the budget is spent. */
  async giveWay(): Promise<void> {
    while (this.spent < this.budgetMs && this.busy()) {
      const started = Date.now();
      await sleep(Math.min(DEFER_POLL_MS, this.budgetMs - this.spent));
      this.spent += Date.now() - started;
    }
  }
}

/** Explicit runs do not wait. */
export const NO_DEFERRAL = { giveWay: () => Promise.resolve() };

export function checkFirm(
  method: string,
  firmId: unknown,
  required: boolean,
): void {
  if (firmId === undefined && !required) return;
  if (typeof firmId !== 'string' || !UUID.test(firmId)) {
    throw new AuditSealQueryError(
      `${method}: firmId must be a UUID, got ${JSON.stringify(firmId)}`,
    );
  }
}

export function checkLog(method: string, log: unknown): void {
  if (log !== undefined && !SEALABLE_LOGS.includes(log as SealableLog)) {
    throw new AuditSealQueryError(
      `${method}: log must be 'audit_log' or 'llm_usage_log', got ${JSON.stringify(log)}`,
    );
  }
}

export function checkInstant(
  method: string,
  field: string,
  value: unknown,
): void {
  if (
    value !== undefined &&
    (!(value instanceof Date) || Number.isNaN(value.getTime()))
  ) {
    throw new AuditSealQueryError(`${method}: ${field} must be a valid Date`);
  }
}

/** `anchors` as given (none when undefined), or an error naming `field`. */
export function checkAnchors(
  method: string,
  field: string,
  anchors: unknown,
): SealAnchor[] {
  if (anchors === undefined) return [];
  if (
    !Array.isArray(anchors) ||
    anchors.some(
      (a: SealAnchor) =>
        typeof a !== 'object' ||
        a === null ||
        !Number.isInteger(a.seq) ||
        a.seq < 1 ||
        typeof a.digest !== 'string' ||
        !HEX_DIGEST.test(a.digest),
    )
  ) {
    throw new AuditSealQueryError(
      `${method}: ${field} must be a list of { seq: a positive integer, digest: 64 hex digits }`,
    );
  }
  return anchors as SealAnchor[];
}

/** The checked arguments of `verify`, or an error naming the field and the rule. */
export function checkVerifyQuery(query: VerifyQuery) {
  if (typeof query !== 'object' || query === null) {
    throw new AuditSealQueryError(
      'verify: the query must be an object with a firmId',
    );
  }
  checkFirm('verify', query.firmId, true);
  checkLog('verify', query.log);
  checkInstant('verify', 'from', query.from);
  checkInstant('verify', 'to', query.to);
  return {
    from: query.from,
    to: query.to,
    anchors: checkAnchors('verify', 'anchors', query.anchors),
    runAnchors: checkAnchors('verify', 'runAnchors', query.runAnchors),
  };
}
