import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { LLM_TASK_TYPES, type LlmTaskType } from '../core/logging.constants.js';
import { IsCostUsd, PG_INTEGER_MAX } from '../core/validation-rules.js';

/** Longest `error_message` stored; longer messages are cut to this many characters (the last `…`). */
export const ERROR_MESSAGE_MAX_LENGTH = 2000;

/** What a model name may be: 1-128 characters of letters, digits and `. _ : / @ -`. */
export const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;

/** One LLM call, as given to `LlmUsageService.record`. */
export interface LlmUsageEntry {
  /** Required, except inside an audited request or `auditContext.run`, which supply it. */
  firmId?: string;
  /** The project the call served, if any. */
  cmaProjectId?: string | null;
  /** e.g. `gemini-3-flash`; 1-128 characters of letters, digits and `. _ : / @ -`. */
  model: string;
  taskType: LlmTaskType;
  inputTokens: number;
  outputTokens: number;
  /** Exact cost: a decimal string like `'0.000124'`, or a number whose decimal form fits NUMERIC(10,6). */
  costUsd: string | number;
  latencyMs?: number | null;
  /** Default: `true`. */
  success?: boolean;
  /**
   * Stored scrubbed, as `track()` stores a failure's message: secrets and financial or identity
   * data become `[REDACTED]` (status codes, error types, model names and durations are kept), then
   * cut to {@link ERROR_MESSAGE_MAX_LENGTH} characters.
   */
  errorMessage?: string | null;
}

const tokens = (field: string) =>
  `${field} must be a non-negative integer of at most ${PG_INTEGER_MAX}`;

/** The validation rules of {@link LlmUsageEntry}. */
export class LlmUsageEntryDto implements LlmUsageEntry {
  @IsUUID('all', { message: 'firmId must be a UUID' })
  firmId: string;

  @IsOptional()
  @IsUUID('all', { message: 'cmaProjectId must be a UUID or null' })
  cmaProjectId?: string | null;

  @IsString({ message: 'model must be a string' })
  @Matches(MODEL_PATTERN, {
    message:
      'model must be 1-128 characters of letters, digits and . _ : / @ -, starting with a letter or digit',
  })
  model: string;

  @IsIn(LLM_TASK_TYPES, {
    message: `taskType must be one of ${LLM_TASK_TYPES.join(', ')}`,
  })
  taskType: LlmTaskType;

  @IsInt({ message: tokens('inputTokens') })
  @Min(0, { message: tokens('inputTokens') })
  @Max(PG_INTEGER_MAX, { message: tokens('inputTokens') })
  inputTokens: number;

  @IsInt({ message: tokens('outputTokens') })
  @Min(0, { message: tokens('outputTokens') })
  @Max(PG_INTEGER_MAX, { message: tokens('outputTokens') })
  outputTokens: number;

  @IsCostUsd()
  costUsd: string | number;

  @IsOptional()
  @IsInt({ message: tokens('latencyMs') })
  @Min(0, { message: tokens('latencyMs') })
  @Max(PG_INTEGER_MAX, { message: tokens('latencyMs') })
  latencyMs?: number | null;

  @ValidateIf((entry: LlmUsageEntryDto) => entry.success !== undefined)
  @IsBoolean({ message: 'success must be a boolean' })
  success?: boolean;

  @IsOptional()
  @IsString({ message: 'errorMessage must be a string or null' })
  errorMessage?: string | null;
}
