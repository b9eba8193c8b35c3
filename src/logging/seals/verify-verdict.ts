import type { SealVerification } from './seal.types.js';

/**
 * What the auditors' verifier (verify-cli.ts) prints for a verdict, and how it exits. No I/O here:
 * the unit tests read it beside the code.
 */

/** The exit codes of the verifier. */
export const VERIFY_EXIT = {
  /** Every chain verifies and every row in range is sealed. */
  verified: 0,
  /** A seal, a row or a run no longer matches: tampering. */
  tampered: 1,
  /** Bad arguments, or no connection. */
  misuse: 2,
  /** Nothing is tampered, but some rows are not sealed yet: nothing vouches for them. */
  unsealed: 3,
} as const;

/**
 * One log's verdict as the auditor reads it: `VERIFIED` (the sealed rows) or `TAMPERED`, an
 * `ERASED` line for each seal whose rows had a user or project deleted (not tampering), and an
 * `UNSEALED` line when rows no seal holds yet are in range. A firm whose rows are all unsealed gets
 * no `VERIFIED` line: nothing was verified.
 */
export function describeVerdict(verdict: SealVerification): string {
  const head = `${verdict.log} of firm ${verdict.firmId}`;
  const lines: string[] = [];
  if (!verdict.ok) {
    const { seq, kind, message } = verdict.problem!;
    lines.push(`TAMPERED  ${head}: seal ${seq}, ${kind}: ${message}`);
  } else if (verdict.sealsChecked > 0 || verdict.unsealed === 0) {
    const last = verdict.last
      ? `, last seal ${verdict.last.seq} digest ${verdict.last.digest}`
      : ', no seals yet';
    lines.push(
      `VERIFIED  ${head}: ${verdict.sealsChecked} seal(s), ${verdict.rowsChecked} row(s)${last}`,
    );
  }
  for (const { seq, kind, message } of verdict.erasures) {
    lines.push(`ERASED    ${head}: seal ${seq}, ${kind}: ${message}`);
  }
  if (verdict.unsealed > 0) {
    const late = verdict.pendingLate
      ? ` (${verdict.pendingLate} late arrival(s) among them)`
      : '';
    const none = verdict.last ? '' : ', and no seal at all';
    lines.push(
      `UNSEALED  ${head}: ${verdict.unsealed} row(s) not sealed yet${late}${none}: not verified until a seal holds them`,
    );
  }
  return lines.join('\n');
}

/** The exit code for these verdicts: tampering first, then unsealed rows. */
export function exitCodeOf(verdicts: SealVerification[]): number {
  if (verdicts.some((v) => !v.ok)) return VERIFY_EXIT.tampered;
  if (verdicts.some((v) => v.unsealed > 0)) return VERIFY_EXIT.unsealed;
  return VERIFY_EXIT.verified;
}
