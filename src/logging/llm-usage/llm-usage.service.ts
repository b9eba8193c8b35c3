import { performance } from 'node:perf_hooks';
import {
  Inject,
  Injectable,
  Logger,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { auditContext } from '../core/audit-context.js';
import { TELEMETRY_OPTIONS } from '../core/logging.constants.js';
import { otelFor } from '../core/otel.js';
import type { LoggingTelemetryOptions } from '../core/telemetry.options.js';
import {
  type EntryViolation,
  LogEntryValidationError,
  validateEntry,
} from '../core/entry-validation.js';
import {
  LogWriterService,
  type RecordOptions,
  type TableWriter,
} from '../writer/log-writer.service.js';
import { type LlmUsage, checkUsage } from './cost.js';
import { type LlmUsageEntry, LlmUsageEntryDto } from './llm-usage-entry.dto.js';
import { LLM_USAGE_TABLE } from './llm-usage-log.table.js';
import { LlmUsageRecordError, UnknownModelError } from './llm-usage.errors.js';
import { ModelPricingService } from './model-pricing.service.js';
import {
  type LlmTrackMeta,
  type LlmTrackOutcome,
  type LlmUsageStats,
  META_FIELDS,
} from './llm-track.js';
import { errorText } from './scrub.js';
import {
  type CallDescription,
  DEFAULT_OPERATION,
  LlmUsageTelemetry,
  telemetryNameViolations,
} from './llm-usage.telemetry.js';

/** Writes the LLM usage and cost log. */
@Injectable()
export class LlmUsageService implements OnModuleInit {
  private readonly logger = new Logger('LoggingModule');
  private readonly counters: LlmUsageStats = {
    callsTracked: 0,
    callsFailed: 0,
    recordFailures: 0,
  };
  private readonly table: TableWriter<LlmUsageEntryDto>;
  private telemetry: LlmUsageTelemetry | undefined;

  constructor(
    writer: LogWriterService,
    /** The price table in force. */
    readonly pricing: ModelPricingService,
    @Optional()
    @Inject(TELEMETRY_OPTIONS)
    private readonly telemetryOptions?: LoggingTelemetryOptions,
  ) {
    this.table = writer.register(LLM_USAGE_TABLE);
  }

  /** Starts the spans and metrics of `track()` when the host's OpenTelemetry is on. */
  async onModuleInit(): Promise<void> {
    const otel = await otelFor(this.telemetryOptions);
    this.telemetry = otel && new LlmUsageTelemetry(otel);
  }

  /**
   * Records one LLM call and resolves with the new row's id: after the commit with durability
   * `'await'` (the default), at once with `'buffered'`, inside the caller's transaction with
   * `{ manager }`. `costUsd` is stored exactly; a cost that does not fit NUMERIC(10,6) is refused.
   * Inside an audited request (or `auditContext.run`), a left-out `firmId` is the request's firm.
   *
   * @throws LogEntryValidationError naming every bad field; nothing is written
   * @throws LogWriteError when the row could not be written (`'await'` and `manager` only)
   * @throws LogBufferFullError when the buffer is full and `writer.onFullBuffer` is `'reject'`
   * @example
   * await usage.record({ firmId, model: 'gemini-3-flash', taskType: 'extraction',
   *   inputTokens: 1200, outputTokens: 300, costUsd: '0.001500', latencyMs: 840 });
   */
  async record(entry: LlmUsageEntry, options?: RecordOptions): Promise<string> {
    const context = auditContext.current();
    if (
      context?.firmId &&
      typeof entry === 'object' &&
      entry !== null &&
      entry.firmId === undefined
    ) {
      return this.table.record({ ...entry, firmId: context.firmId }, options);
    }
    return this.table.record(entry, options);
  }

  /**
   * The cost of a call to `model` with `usage`, in USD, as an exact decimal string with 6
   * fractional digits (`'0.000124'`), without recording anything.
   *
   * @throws UnknownModelError when no price is known for `model`
   * @throws LlmCostError for an invalid usage or a cost of 10000 USD or more
   */
  cost(model: string, usage: LlmUsage): string {
    return this.pricing.cost(model, usage);
  }

  /**
   * Calls `fn` (the LLM call), times it and records it: tokens, exact cost, latency, outcome.
   * Resolves with `fn`'s `result`.
   *
   * Before `fn` runs, `meta` is checked (the entry rules of `record()`) and the model's price looked
   * up; a bad meta or a model without a price (unless `costUsd` is given) fails there: `fn` is not
   * called and nothing is written. When `fn` throws, a row with `success = false`, 0 tokens, cost
   * 0 and the error's name and message is recorded, scrubbed as `record({ errorMessage })`
   * scrubs it (secrets and financial or identity data redacted, 2,000 characters at most), and the
   * ORIGINAL error is rethrown unchanged (if that row cannot be written, this is logged and
   * counted, and the original error is still what is thrown).
   *
   * With the host's OpenTelemetry on (see docs/telemetry.md), `fn` runs inside a CLIENT span named
   * `{operation} {model}` with the GenAI attributes and the row's id; no prompt or completion.
   *
   * @throws LogEntryValidationError for a bad `meta`, before `fn` runs
   * @throws UnknownModelError when no price is known for `meta.model`, before `fn` runs
   * @throws LlmUsageRecordError when `fn` succeeded but its row could not be recorded (invalid
   *   usage, a cost that does not fit NUMERIC(10,6), a write failure); it carries `result`
   * @example
   * const text = await usage.track(
   *   { firmId, model: 'gemini-3-flash', taskType: 'extraction' },
   *   async () => {
   *     const response = await ai.models.generateContent({ model: 'gemini-3-flash', contents });
   *     return { result: response.text, usage: usageFromGemini(response.usageMetadata) };
   *   },
   * );
   */
  async track<T>(
    meta: LlmTrackMeta,
    fn: () => LlmTrackOutcome<T> | Promise<LlmTrackOutcome<T>>,
  ): Promise<T> {
    const { entry, options, call: description } = this.prepare(meta);
    const call = this.telemetry?.start(description);
    const started = performance.now();
    const elapsed = () => Math.max(0, Math.round(performance.now() - started));
    let outcome: LlmTrackOutcome<T>;
    try {
      outcome = await (call ? call.run(fn) : fn());
    } catch (error) {
      const latencyMs = elapsed();
      this.counters.callsFailed++;
      call?.failed(error);
      let rowId: string | undefined;
      try {
        rowId = await this.table.record(
          {
            ...entry,
            inputTokens: 0,
            outputTokens: 0,
            costUsd: '0',
            latencyMs,
            success: false,
            errorMessage: errorText(error),
          },
          options,
        );
      } catch (writeError) {
        call?.end(undefined, writeError);
        this.counters.recordFailures++;
        this.logger.error(
          `llm_usage_log: the failure row of a tracked call to ${entry.model} was not recorded: ${
            writeError instanceof Error
              ? writeError.message
              : String(writeError)
          }`,
        );
      }
      if (rowId !== undefined) call?.end(rowId);
      throw error;
    }
    const latencyMs = elapsed();
    const result =
      typeof outcome === 'object' && outcome !== null
        ? outcome.result
        : undefined;
    try {
      const usage = outcome?.usage;
      const counts = checkUsage(usage);
      const costUsd = entry.costUsd ?? this.pricing.cost(entry.model, usage);
      call?.succeeded({
        inputTokens: Number(counts.input),
        outputTokens: Number(counts.output),
        costUsd: String(costUsd),
        responseModel:
          typeof usage.responseModel === 'string'
            ? usage.responseModel
            : undefined,
      });
      const rowId = await this.table.record(
        {
          ...entry,
          inputTokens: Number(counts.input),
          outputTokens: Number(counts.output),
          costUsd,
          latencyMs,
          success: true,
        },
        options,
      );
      call?.end(rowId);
    } catch (error) {
      call?.end(undefined, error);
      this.counters.recordFailures++;
      throw new LlmUsageRecordError(entry.model, result as T, error);
    }
    this.counters.callsTracked++;
    return result as T;
  }

  /** A copy of the counters of `track()`. */
  stats(): Readonly<LlmUsageStats> {
    return { ...this.counters };
  }

  /** Checks `meta` and the model's price; nothing has run yet. */
  private prepare(meta: LlmTrackMeta): {
    entry: Omit<LlmUsageEntry, 'inputTokens' | 'outputTokens' | 'costUsd'> & {
      costUsd?: string | number;
    };
    options: RecordOptions;
    call: CallDescription;
  } {
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
      throw new LogEntryValidationError('llm_usage_log', [
        { field: 'meta', rule: 'isObject', message: 'meta must be an object' },
      ]);
    }
    const violations: EntryViolation[] = [];
    for (const key of Object.keys(meta)) {
      if (!META_FIELDS.has(key)) {
        violations.push({
          field: key,
          rule: 'whitelistValidation',
          message: `${key} is not a field of track()'s meta`,
        });
      }
    }
    const { durability, costUsd, model, taskType, cmaProjectId } = meta;
    const { operation = DEFAULT_OPERATION, provider } = meta;
    violations.push(...telemetryNameViolations({ operation, provider }));
    if (
      durability !== undefined &&
      !['await', 'buffered'].includes(durability)
    ) {
      violations.push({
        field: 'durability',
        rule: 'isIn',
        message: `durability must be 'await' or 'buffered'`,
      });
    }
    const firmId = meta.firmId ?? auditContext.current()?.firmId ?? undefined;
    const entry = {
      firmId,
      ...(cmaProjectId === undefined ? {} : { cmaProjectId }),
      model,
      taskType,
      ...(costUsd === undefined ? {} : { costUsd }),
    };
    try {
      validateEntry(LlmUsageEntryDto, 'llm_usage_log', {
        ...entry,
        inputTokens: 0,
        outputTokens: 0,
        costUsd: costUsd ?? '0',
        latencyMs: 0,
      });
    } catch (error) {
      if (!(error instanceof LogEntryValidationError)) throw error;
      violations.push(...error.violations);
    }
    if (violations.length) {
      throw new LogEntryValidationError('llm_usage_log', violations);
    }
    if (costUsd === undefined && !this.pricing.has(model)) {
      throw new UnknownModelError(model);
    }
    return {
      entry,
      options: durability === undefined ? {} : { durability },
      call: {
        operation,
        provider: provider ?? this.pricing.provider(model),
        model,
        taskType,
        firmId,
        projectId: cmaProjectId,
      },
    };
  }
}
