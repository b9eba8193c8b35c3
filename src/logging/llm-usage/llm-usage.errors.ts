/**
 * No price is known for a model: it is not in the price table, not an alias, and its normal form
 * (see `normalizeModelName`) is neither. Raised before the LLM call when `track()` is used, so
 * nothing is called and nothing is written.
 */
export class UnknownModelError extends Error {
  override readonly name = 'UnknownModelError';

  constructor(readonly model: string) {
    const shown = JSON.stringify(String(model).slice(0, 128));
    super(
      `No price for model ${shown}: add it with LoggingModule.forRoot({ pricing: { models: ` +
        `{ ${shown}: { inputPerMTok, cachedInputPerMTok, outputPerMTok } } } }), map it to a ` +
        `priced model in pricing.aliases, or give costUsd yourself`,
    );
  }
}

/**
 * The LLM call succeeded but its usage row could not be recorded: the usage it reported was
 * invalid (`LlmCostError`), the cost does not fit NUMERIC(10,6), or the write failed
 * (`LogWriteError`, `LogBufferFullError`, `LogWriterClosedError`). The call's `result` is carried
 * here so the caller does not lose it; `cause` is the error underneath. Counted in
 * `LlmUsageService.stats().recordFailures`.
 */
export class LlmUsageRecordError<T = unknown> extends Error {
  override readonly name = 'LlmUsageRecordError';

  constructor(
    readonly model: string,
    readonly result: T,
    override readonly cause: unknown,
  ) {
    super(
      `The call to ${JSON.stringify(String(model).slice(0, 128))} succeeded but its llm_usage_log row ` +
        `was not recorded: ${cause instanceof Error ? cause.message : String(cause)} ` +
        `(the call's result is in this error's result)`,
      { cause },
    );
  }
}
