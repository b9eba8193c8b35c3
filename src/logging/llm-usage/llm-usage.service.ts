import { Injectable } from '@nestjs/common';
import { auditContext } from '../audit/audit-context.js';
import { LogWriter, type RecordOptions } from '../writer/log-writer.service.js';
import type { LlmUsageEntry } from './llm-usage-entry.js';

/** Writes the LLM usage and cost log. */
@Injectable()
export class LlmUsageService {
  constructor(private readonly writer: LogWriter) {}

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
      return this.writer.recordUsage(
        { ...entry, firmId: context.firmId },
        options,
      );
    }
    return this.writer.recordUsage(entry, options);
  }
}
