import { optionCheck } from './option-check.js';

/**
 * Options of the module's OpenTelemetry spans and metrics, `LoggingModule.forRoot({ telemetry })`.
 * The module never registers an SDK or an exporter: it uses the host's global tracer and meter
 * providers through `@opentelemetry/api`, an optional peer dependency. Without the API, or without
 * an SDK the host registered, nothing is emitted and nothing changes.
 */
export interface LoggingTelemetryOptions {
  /**
   * Emit spans around `track()` and the writer's, the LLM calls' and the audit trail's metrics.
   * Default: `true` when `@opentelemetry/api` can be loaded, else `false`. `true` without the API
   * installed is refused at startup.
   */
  enabled?: boolean;
  /**
   * Put the scrubbed error message of a failed tracked call on its span (`cma_logging.error_message`)
   * and the span status. Scrubbed like the stored message (keys, tokens and URL passwords removed),
   * but it may still hold what the provider wrote. Default: `false` (only `error.type`).
   */
  captureErrorMessages?: boolean;
  /**
   * Add the firm id as a metric attribute (`cma_logging.firm_id`) to the LLM and audit metrics. One
   * time series per firm: mind the backend's cardinality limits. Spans carry the firm id always.
   * Default: `false`.
   */
  firmIdAttribute?: boolean;
}

/** {@link LoggingTelemetryOptions} with the defaults merged and checked. */
export interface ResolvedTelemetryOptions {
  enabled: boolean;
  captureErrorMessages: boolean;
  firmIdAttribute: boolean;
}

/**
 * Attribute names of the module's own spans and metrics, beside the GenAI conventions' `gen_ai.*`
 * names. Namespaced, so that they cannot clash with a convention's.
 */
export const TELEMETRY_ATTRIBUTES = Object.freeze({
  taskType: 'cma_logging.task_type',
  firmId: 'cma_logging.firm_id',
  projectId: 'cma_logging.project_id',
  costUsd: 'cma_logging.cost_usd',
  rowId: 'cma_logging.row_id',
  errorMessage: 'cma_logging.error_message',
  recordError: 'cma_logging.record_error',
  table: 'cma_logging.table',
  reason: 'cma_logging.reason',
  action: 'cma_logging.action',
  outcome: 'cma_logging.outcome',
} as const);

const FIELDS = new Set(['enabled', 'captureErrorMessages', 'firmIdAttribute']);
const check = optionCheck('telemetry');

/**
 * Checks `options` and merges the defaults. `apiPresent`: whether `@opentelemetry/api` could be
 * loaded, which decides the default of `enabled`.
 *
 * @throws Error naming the field and the rule
 */
export function resolveTelemetryOptions(
  options: LoggingTelemetryOptions | undefined,
  apiPresent: boolean,
): ResolvedTelemetryOptions {
  const given: unknown = options ?? {};
  check(
    typeof given === 'object' && given !== null && !Array.isArray(given),
    '',
    'an object { enabled?, captureErrorMessages?, firmIdAttribute? }',
  );
  const raw = given as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    check(
      FIELDS.has(key),
      key,
      `left out: telemetry takes only ${[...FIELDS].join(', ')}`,
    );
  }
  for (const field of FIELDS) {
    check(
      raw[field] === undefined || typeof raw[field] === 'boolean',
      field,
      'a boolean',
    );
  }
  const enabled = (raw.enabled as boolean | undefined) ?? apiPresent;
  check(
    !enabled || apiPresent,
    'enabled',
    'false or left out when @opentelemetry/api is not installed: install it ' +
      '(npm install @opentelemetry/api) and register an SDK, or leave telemetry.enabled unset',
  );
  return {
    enabled,
    captureErrorMessages: raw.captureErrorMessages === true,
    firmIdAttribute: raw.firmIdAttribute === true,
  };
}
