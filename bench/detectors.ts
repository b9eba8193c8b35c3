/**
 * bench/detectors: the CPU the detectors cost per row, in the writer's process, without a
 * database. Four measures, each the median of BENCH_ROUNDS (5) rounds of BENCH_CALLS (50,000)
 * calls after a warm-up round:
 *   - detectSensitive on one declared identifier, over a mix of the references hosts store (words,
 *     invoice and batch numbers, model names with dates, UUIDs, SHAs, provider ids);
 *   - sanitizeMetadata of a typical declared audit row (three identifiers, a UUID, two counts),
 *     and, as its scale, JSON.stringify of the same object (what every row pays to be written);
 *   - the stored error message of a failed call (llm_usage_log.error_message), short
 *     ('deadline exceeded', as bench/writer records one row in 50) and a provider's 400 characters.
 * Prints µs per call; writes bench/results/detectors.json.
 *
 *   npm run bench:detectors
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { IsIn, IsInt, IsUUID, Matches, Max, MaxLength } from 'class-validator';
import {
  METADATA_POLICY_DEFAULTS,
  sanitizeMetadata,
} from '../src/logging/core/metadata-policy.js';
import { detectSensitive } from '../src/logging/core/sensitive-values.js';
import { storedErrorMessage } from '../src/logging/llm-usage/scrub.js';
import { machineLine, writeResults } from './support.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const IDENTIFIERS = [
  'upload_file',
  'bank_statement',
  'INV-2026-000123',
  'batch_20260415_0003',
  'claude-3-5-sonnet-20241022',
  'gpt-4o-2024-08-06',
  'gemini-2.5-flash',
  '6f1c2a8e-3b7d-4e2a-9c1f-0a1b2c3d4e5f',
  '0193f2a1-b2c4-7d8e-9f01-23456789abcd',
  '3f2a9c1e0b8d7a6f5e4d3c2b1a0f9e8d7c6b5a49',
  'chatcmpl-9pXyZ2aBcDeFgHiJkLmNoPqRsTuV',
  'req_011CRk2Zt8Q5vJ1yXw3nP7aB',
  'IMG_20240415_103000.jpg',
  'stage.ocr:page-12',
  'FY2025-26',
  'pdf',
];

class RowMetadata {
  @IsUUID() fileId: string;
  @Matches(/^[A-Za-z][A-Za-z0-9_.:-]*$/) @MaxLength(64) reference: string;
  @Matches(/^[A-Za-z][A-Za-z0-9_.:-]*$/) @MaxLength(64) batch: string;
  @IsIn(['pdf', 'xlsx']) format: string;
  @IsInt() @Max(10_000) pages: number;
  @IsInt() @Max(100) attempt: number;
}

const ROW = {
  fileId: '6f1c2a8e-3b7d-4e2a-9c1f-0a1b2c3d4e5f',
  reference: 'INV-2026-000123',
  batch: 'batch_20260415_0003',
  format: 'pdf',
  pages: 12,
  attempt: 1,
};

const PROVIDER_ERROR =
  'RateLimitError: 429 Rate limit reached for gpt-4o-2024-08-06 in organization org-abcDEF123ghiJKL456mnoPQR on tokens per min (TPM): Limit 800000, Used 799350, Requested 1564. Please try again in 2.672s. Visit https://platform.openai.com/account/rate-limits to learn more. (request id req_1a008ef9737ada80edb51a4d482f4842)';

/** µs per call of `fn`, the median of the rounds. */
function measure(fn: (i: number) => unknown): number {
  const rounds: number[] = [];
  for (let round = -1; round < ROUNDS; round++) {
    const started = performance.now();
    for (let i = 0; i < CALLS; i++) fn(i);
    const us = ((performance.now() - started) * 1000) / CALLS;
    if (round >= 0) rounds.push(us);
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(rounds.length / 2)];
}

async function main(): Promise<void> {
  console.log(
    `bench/detectors: ${machineLine()}, Node ${process.version}, ${CALLS} calls x ${ROUNDS} rounds (median)`,
  );
  let sink = 0;
  const results = {
    identifier: measure((i) => {
      if (detectSensitive(IDENTIFIERS[i % IDENTIFIERS.length]) !== null) sink++;
    }),
    auditRow: measure(() => {
      sink += Object.keys(
        sanitizeMetadata(ROW, METADATA_POLICY_DEFAULTS, RowMetadata).metadata,
      ).length;
    }),
    auditRowJson: measure(() => {
      sink += JSON.stringify(ROW).length;
    }),
    shortError: measure(() => {
      sink += storedErrorMessage(
        'Error: deadline exceeded',
        'gemini-3-flash',
      ).length;
    }),
    providerError: measure(() => {
      sink += storedErrorMessage(PROVIDER_ERROR, 'gpt-4o').length;
    }),
  };
  for (const [name, us] of Object.entries(results)) {
    console.log(`${name.padEnd(14)} ${us.toFixed(2).padStart(8)} µs per call`);
  }
  if (sink < 0) console.log(sink);
  await writeResults('detectors', {
    node: process.version,
    calls: CALLS,
    rounds: ROUNDS,
    microsecondsPerCall: results,
  });
}

void main();
