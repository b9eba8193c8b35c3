import type { Attributes } from '@opentelemetry/api';
import type { Otel } from '../core/otel.js';
import { TELEMETRY_ATTRIBUTES as A } from '../core/telemetry.options.js';
import type { AuditStats } from './audit.options.js';

/**
 * The audit trail's metrics, through the host's meter: actions audited (a counter by action and
 * outcome), and, read from the trail's counters when the host collects, actions run unaudited for
 * want of a firm, metadata values dropped by the policy and rows that could not be written. No
 * tenant data: the firm id is added only with `telemetry.firmIdAttribute`.
 */
export class AuditMetrics {
  /**
   * The count of audited actions per attribute set, read when the host's reader collects: by
   * action, then by outcome (and firm, with `firmIdAttribute`).
   */
  private readonly actions = new Map<
    string,
    Map<string, { attributes: Attributes; count: number }>
  >();
  /** Attribute sets counted so far. */
  private points = 0;
  /** Where actions past MAX_ACTION_POINTS attribute sets are counted, as the SDK's overflow. */
  private readonly overflow = {
    attributes: { 'otel.metric.overflow': true } as Attributes,
    count: 0,
  };

  constructor(
    private readonly otel: Otel,
    counters: AuditStats,
  ) {
    const { meter } = otel;
    meter
      .createObservableCounter('cma_logging.audit.actions', {
        unit: '{action}',
        description:
          'Audited actions whose row was written (or accepted into the buffer)',
      })
      .addCallback((result) => {
        for (const byOutcome of this.actions.values()) {
          for (const { attributes, count } of byOutcome.values()) {
            result.observe(count, attributes);
          }
        }
        if (this.overflow.count > 0) {
          result.observe(this.overflow.count, this.overflow.attributes);
        }
      });
    const observed = (
      name: string,
      unit: string,
      description: string,
      read: () => number,
    ) =>
      meter
        .createObservableCounter(name, { unit, description })
        .addCallback((result) => result.observe(read()));
    observed(
      'cma_logging.audit.skipped',
      '{action}',
      "Audited actions run unaudited for want of a firm (audit.onMissingFirm 'skip')",
      () => counters.skippedNoFirm,
    );
    observed(
      'cma_logging.audit.metadata.dropped',
      '{value}',
      'Metadata values the metadata policy dropped or refused',
      () => counters.metadataDropped,
    );
    observed(
      'cma_logging.audit.metadata.refused',
      '{row}',
      'Rows of audited actions written without their metadata, which the strict policy refused',
      () => counters.metadataRefused,
    );
    observed(
      'cma_logging.audit.write_failures',
      '{row}',
      'Rows of audited actions that could not be written',
      () => counters.writeFailures,
    );
  }

  /**
   * One action's row was written (or buffered). `outcome`: `success`, `failure` or `cancelled`,
   * when known.
   * A count per attribute set, kept here: an action costs a map lookup, no metric call.
   */
  audited(action: string, outcome: unknown, firmId: unknown): void {
    const known =
      outcome === 'success' || outcome === 'failure' || outcome === 'cancelled';
    const firm =
      this.otel.options.firmIdAttribute && typeof firmId === 'string'
        ? firmId
        : undefined;
    // without a firm, the outcome itself is the key: no string is made per action
    const key =
      firm === undefined
        ? known
          ? outcome
          : ''
        : `${known ? outcome : ''}\u0000${firm}`;
    let byOutcome = this.actions.get(action);
    let point = byOutcome?.get(key);
    if (!point) {
      // Actions are the host's own names, few (times the firms when opted in); the bound keeps a
      // stray caller from growing it, as the SDK's own cardinality limit does.
      if (this.points >= MAX_ACTION_POINTS) {
        this.overflow.count++;
        return;
      }
      const attributes: Attributes = { [A.action]: action };
      if (known) attributes[A.outcome] = outcome;
      if (firm !== undefined) attributes[A.firmId] = firm;
      point = { attributes, count: 0 };
      if (byOutcome === undefined) {
        byOutcome = new Map();
        this.actions.set(action, byOutcome);
      }
      byOutcome.set(key, point);
      this.points++;
    }
    point.count++;
  }
}

/** Attribute sets of `cma_logging.audit.actions` kept at most: the SDK's default limit. */
const MAX_ACTION_POINTS = 2000;
