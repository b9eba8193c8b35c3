import type { Durability } from '../writer/writer.options.js';
import type { LlmUsage } from './cost.js';
import type { LlmTaskType } from '../core/logging.constants.js';

/**
 * What `LlmUsageService.track()` takes beside the call, what it resolves with, and its counters.
 *
 * @module
 */

/** What `track()` records about a call besides what the call itself reports. */
export interface LlmTrackMeta {
  /** Required, except inside an audited request or `auditContext.run`, which supply it. */
  firmId?: string;
  /** The project the call served, if any. */
  cmaProjectId?: string | null;
  /** The model called, e.g. `gemini-3-flash`; its price must be known unless `costUsd` is given. */
  model: string;
  taskType: LlmTaskType;
  /**
   * The call's cost, when the caller knows it better than the price table (a decimal string, or a
   * number that fits NUMERIC(10,6)). Given, the model need not be priced. Default: computed.
   */
  costUsd?: string | number;
  /** Durability of the row; default: the module's `writer.durability`. */
  durability?: Durability;
  /**
   * The GenAI operation, for telemetry only (`gen_ai.operation.name`): `chat`, `embeddings`, ...
   * Default: `'generate_content'`.
   */
  operation?: string;
  /**
   * The GenAI provider, for telemetry only (`gen_ai.provider.name`), e.g. `openai`. Default: the
   * price table's `provider` of the model (`gcp.gemini` for the built-in models).
   */
  provider?: string;
}

/** What the tracked function resolves with: its result, and the tokens the provider reported. */
export interface LlmTrackOutcome<T> {
  result: T;
  usage: LlmUsage;
}

/** Counters of `track()`, read with `LlmUsageService.stats()`. They only grow. */
export interface LlmUsageStats {
  /** Tracked calls that succeeded and were recorded. */
  callsTracked: number;
  /** Tracked calls that threw (their failure rows were recorded, or counted below). */
  callsFailed: number;
  /** Rows of tracked calls that could not be recorded (success or failure rows). */
  recordFailures: number;
}

/** The keys of {@link LlmTrackMeta}: `track()` tells its meta from a call's options by them. */
export const META_FIELDS: ReadonlySet<string> = new Set([
  'firmId',
  'cmaProjectId',
  'model',
  'taskType',
  'costUsd',
  'durability',
  'operation',
  'provider',
]);
