import type { SealVerification } from './seal.types.js';
import { VERIFY_EXIT, describeVerdict, exitCodeOf } from './verify-verdict.js';

/** What the auditors' verifier prints for a verdict, and its exit code. */

const FIRM = '6f1c2b1e-8d3a-4c5e-9f00-1a2b3c4d5e6f';
const DIGEST = 'ab'.repeat(32);

function verdict(overrides: Partial<SealVerification>): SealVerification {
  return {
    log: 'audit_log',
    firmId: FIRM,
    ok: true,
    sealsChecked: 0,
    rowsChecked: 0,
    last: null,
    pendingLate: 0,
    unsealed: 0,
    erasures: [],
    ...overrides,
  };
}

const sealed = {
  sealsChecked: 2,
  rowsChecked: 40,
  last: { seq: 2, digest: DIGEST },
};

describe("the verifier's verdict lines and exit code", () => {
  it('a firm whose rows are all sealed and verify: one VERIFIED line, exit 0', () => {
    const v = verdict(sealed);
    expect(describeVerdict(v)).toBe(
      `VERIFIED  audit_log of firm ${FIRM}: 2 seal(s), 40 row(s), last seal 2 digest ${DIGEST}`,
    );
    expect(exitCodeOf([v])).toBe(VERIFY_EXIT.verified);
  });

  it('a firm with rows and no seal: UNSEALED and no VERIFIED line, exit 3', () => {
    const v = verdict({ unsealed: 7 });
    expect(describeVerdict(v)).toBe(
      `UNSEALED  audit_log of firm ${FIRM}: 7 row(s) not sealed yet, and no seal at all: not verified until a seal holds them`,
    );
    expect(exitCodeOf([v])).toBe(3);
  });

  it('rows after the last seal: VERIFIED for the sealed ones, UNSEALED for the rest, late arrivals counted among them', () => {
    const v = verdict({ ...sealed, unsealed: 5, pendingLate: 2 });
    expect(describeVerdict(v).split('\n')).toEqual([
      `VERIFIED  audit_log of firm ${FIRM}: 2 seal(s), 40 row(s), last seal 2 digest ${DIGEST}`,
      `UNSEALED  audit_log of firm ${FIRM}: 5 row(s) not sealed yet (2 late arrival(s) among them): not verified until a seal holds them`,
    ]);
    expect(exitCodeOf([v])).toBe(VERIFY_EXIT.unsealed);
  });

  it('tampering outranks unsealed rows: TAMPERED, ERASED, then UNSEALED, exit 1', () => {
    const v = verdict({
      ...sealed,
      ok: false,
      unsealed: 1,
      problem: { seq: 2, kind: 'row-edited', message: 'a row was edited' },
      erasures: [
        {
          seq: 1,
          kind: 'reference-erased',
          column: 'user_id',
          rows: 3,
          references: 1,
          message: 'users deleted',
        },
      ],
    });
    expect(describeVerdict(v).split('\n')).toEqual([
      `TAMPERED  audit_log of firm ${FIRM}: seal 2, row-edited: a row was edited`,
      `ERASED    audit_log of firm ${FIRM}: seal 1, reference-erased: users deleted`,
      `UNSEALED  audit_log of firm ${FIRM}: 1 row(s) not sealed yet: not verified until a seal holds them`,
    ]);
    expect(exitCodeOf([verdict({ unsealed: 4 }), v])).toBe(
      VERIFY_EXIT.tampered,
    );
  });

  it('a firm without rows or seals has nothing to hide: VERIFIED with no seals yet, exit 0', () => {
    const v = verdict({});
    expect(describeVerdict(v)).toBe(
      `VERIFIED  audit_log of firm ${FIRM}: 0 seal(s), 0 row(s), no seals yet`,
    );
    expect(exitCodeOf([v])).toBe(0);
  });
});
