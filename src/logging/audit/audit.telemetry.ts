import type { Attributes, Counter } from '@opentelemetry/api';
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
  private readonly actions: Counter;
  private readonly attributes = new Map<string, Attributes>();

  constructor(
    private readonly otel: Otel,
    counters: AuditStats,
  ) {
    const { meter } = otel;
    this.actions = meter.createCounter('cma_logging.audit.actions', {
      unit: '{action}',
      description:
        'Audited actions whose row was written (or accepted into the buffer)',
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
      'cma_logging.audit.write_failures',
      '{row}',
      'Rows of audited actions that could not be written',
      () => counters.writeFailures,
    );
  }

  /** One action's row was written (or buffered). `outcome`: `success` or `failure`, when known. */
  audited(action: string, outcome: unknown, firmId: unknown): void {
    const known = outcome === 'success' || outcome === 'failure';
    if (this.otel.options.firmIdAttribute && typeof firmId === 'string') {
      this.actions.add(1, {
        [A.action]: action,
        ...(known ? { [A.outcome]: outcome } : {}),
        [A.firmId]: firmId,
      });
      return;
    }
    const key = `${action}\u0000${known ? outcome : ''}`;
    let attributes = this.attributes.get(key);
    if (!attributes) {
      attributes = {
        [A.action]: action,
        ...(known ? { [A.outcome]: outcome } : {}),
      };
      // Actions are the host's own names, few; the bound keeps a stray caller from growing it.
      if (this.attributes.size < 1000) this.attributes.set(key, attributes);
    }
    this.actions.add(1, attributes);
  }
}
