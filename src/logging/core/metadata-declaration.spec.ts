import 'reflect-metadata';
import { LogDigests } from './log-digests.js';
import { describe, expect, it } from '@jest/globals';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { AUDIT_METADATA_MAX_BYTES } from './logging.constants.js';
import { metadataDeclaration } from './metadata-declaration.js';
import {
  AuditMetadataError,
  resolveMetadataPolicy,
  safeRequestId,
  sanitizeMetadata,
  storedMetadata,
  systemMetadata,
} from './metadata-policy.js';

class Counts {
  @IsInt() @Max(500) rows: number;
}

class Upload {
  @IsUUID() fileId: string;
  @IsIn(['pdf', 'xlsx']) format: string;
  @Matches(/^inv_[a-z0-9]+$/) @MaxLength(20) invoiceRef: string;
  @IsInt() @Min(1) @Max(500) pages: number;
  @IsOptional() @IsBoolean() ocr?: boolean;
  @ValidateNested() counts: Counts;
  @IsArray() @ArrayMaxSize(3) @IsUUID('all', { each: true }) related: string[];
}

class NoKind {
  @IsString() note: string;
}
class NoMax {
  @IsInt() n: number;
}
class NegativeMin {
  @IsInt() @Min(-5) @Max(5) n: number;
}
class TwoKinds {
  @IsInt() @Max(2) @IsBoolean() n: number;
}
class BadSet {
  @IsIn(['ABCPE1234F']) n: string;
}
class Empty {}

const DECLARED = resolveMetadataPolicy();
const FILE = '6f1c2a8e-3b7d-4e2a-9c1f-0a1b2c3d4e5f';
const drops = (input: unknown, policy = DECLARED) =>
  sanitizeMetadata(input, policy, Upload).dropped.map((d) => [d.path, d.rule]);

describe('declared metadata', () => {
  it('stores the declared keys of their kinds', () => {
    const input = {
      fileId: FILE,
      format: 'pdf',
      invoiceRef: 'inv_42',
      pages: 12,
      ocr: true,
      counts: { rows: 40 },
      related: [FILE],
    };
    expect(sanitizeMetadata(input, DECLARED, Upload)).toEqual({
      metadata: input,
      dropped: [],
    });
  });

  it('drops undeclared keys, whatever they are called, and redacts telling key names in the report', () => {
    expect(
      drops({ pages: 3, totalamount: 150000, sales: 1, ref_abcpe1234f: 1 }),
    ).toEqual([
      ['totalamount', 'undeclared_key'],
      ['sales', 'undeclared_key'],
      ['<redacted>', 'undeclared_key'],
    ]);
  });

  it('drops values that are not of their kind', () => {
    expect(
      drops({
        fileId: 'abc',
        format: 'docx',
        invoiceRef: 'inv_ABCPE1234F',
        pages: 501,
        ocr: 'yes',
        counts: { rows: 1000, extra: 1 },
        related: [FILE, FILE, FILE, FILE],
      }),
    ).toEqual([
      ['fileId', 'not_a_uuid'],
      ['format', 'not_an_identifier'],
      ['invoiceRef', 'not_an_identifier'],
      ['pages', 'not_a_count'],
      ['ocr', 'not_a_boolean'],
      ['counts.rows', 'not_a_count'],
      ['counts.extra', 'undeclared_key'],
      ['related', 'array_too_long'],
    ]);
  });

  it('runs the detectors on identifiers a declared pattern lets through', () => {
    class Loose {
      @Matches(/^[a-z0-9_.:-]+$/i) ref: string;
      @IsArray()
      @IsInt({ each: true })
      @Max(500, { each: true })
      parts: number[];
    }
    const policy = DECLARED;
    for (const ref of [
      'refabcpe1234f',
      'MUMA-1234-5B',
      'x2345-6789-0123',
      'inr150000',
    ]) {
      expect(sanitizeMetadata({ ref }, policy, Loose).metadata).toEqual({});
    }
    // a card number split over counts, each within the maximum
    expect(
      sanitizeMetadata({ parts: [411, 111, 111, 111, 111, 1] }, policy, Loose)
        .dropped,
    ).toEqual([{ path: 'parts', rule: 'identity_number' }]);
  });

  it('stores nothing but system keys for an action without a declaration, and throws in strict mode', () => {
    expect(sanitizeMetadata({ pages: 3 }, DECLARED).metadata).toEqual({});
    expect(() =>
      sanitizeMetadata(
        { pages: 3, extra: 1 },
        resolveMetadataPolicy({ strict: true }),
        Upload,
      ),
    ).toThrow(
      new AuditMetadataError([{ path: 'extra', rule: 'undeclared_key' }]),
    );
  });

  it.each([
    ['a property without a kind', NoKind, 'needs exactly one kind'],
    ['a count without a maximum', NoMax, 'add @Max(n)'],
    ['a negative minimum', NegativeMin, '@Min() of a count'],
    ['two kinds', TwoKinds, 'exactly one kind'],
    ['a set holding an identity number', BadSet, '@IsIn() takes identifiers'],
    ['no key at all', Empty, 'declares no key'],
  ])('refuses %s when it is read, naming the rule', (_, type, rule) => {
    expect(() => metadataDeclaration(type)).toThrow(rule);
  });
});

describe('system keys', () => {
  const DIGEST = new LogDigests().requestId('req-1');

  it('takes as a request id 1 to 200 visible ASCII characters, and nothing else', () => {
    for (const ok of [
      FILE,
      '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      'req-42',
      'ABCPE1234F',
      'x'.repeat(200),
    ]) {
      expect(safeRequestId(ok)).toBe(ok);
    }
    for (const bad of [
      '',
      'PAN ABCPE1234F',
      'x'.repeat(201),
      'é',
      'a\tb',
      42,
    ]) {
      expect(safeRequestId(bad)).toBeNull();
    }
  });

  it('stores as requestId only a keyed digest, never an id as given', () => {
    const digest = new LogDigests().requestId('req-42');
    expect(systemMetadata({ requestId: digest })).toEqual({
      metadata: { requestId: digest },
      dropped: [],
    });
    for (const raw of ['req-42', FILE, digest.toUpperCase(), `${digest}a`]) {
      expect(systemMetadata({ requestId: raw })).toEqual({
        metadata: {},
        dropped: [{ path: 'requestId', rule: 'not_an_identifier' }],
      });
    }
  });

  it('checks outcome, error class and status', () => {
    expect(
      systemMetadata({
        outcome: 'failure',
        errorClass: 'ABCPE1234FError',
        status: 1000,
        requestId: DIGEST,
      }),
    ).toEqual({
      metadata: { outcome: 'failure', requestId: DIGEST },
      dropped: [
        { path: 'errorClass', rule: 'not_an_identifier' },
        { path: 'status', rule: 'not_a_count' },
      ],
    });
  });

  it('keeps a cancelled outcome, a count of values and an attempt from 2, and nothing else there', () => {
    expect(
      systemMetadata({ outcome: 'cancelled', values: 0, attempt: 2 }),
    ).toEqual({
      metadata: { outcome: 'cancelled', values: 0, attempt: 2 },
      dropped: [],
    });
    expect(
      systemMetadata({ outcome: 'canceled', values: -1, attempt: 1 }),
    ).toEqual({
      metadata: {},
      dropped: [
        { path: 'outcome', rule: 'not_an_identifier' },
        { path: 'values', rule: 'not_a_count' },
        { path: 'attempt', rule: 'not_a_count' },
      ],
    });
    expect(systemMetadata({ metadataRefused: true })).toEqual({
      metadata: { metadataRefused: true },
      dropped: [],
    });
    expect(systemMetadata({ metadataRefused: 'yes' }).dropped).toEqual([
      { path: 'metadataRefused', rule: 'not_a_boolean' },
    ]);
    expect(systemMetadata({ values: '3', attempt: 2.5 }).dropped).toEqual([
      { path: 'values', rule: 'not_a_count' },
      { path: 'attempt', rule: 'not_a_count' },
    ]);
  });

  it('bounds the metadata as stored, system keys included', () => {
    const declared = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`key${i}`, 'x'.repeat(40)]),
    );
    const { metadata, dropped } = storedMetadata(declared, {
      outcome: 'success',
      requestId: DIGEST,
    });
    expect(Buffer.byteLength(JSON.stringify(metadata))).toBeLessThanOrEqual(
      AUDIT_METADATA_MAX_BYTES,
    );
    expect(metadata).toMatchObject({ outcome: 'success', requestId: DIGEST });
    expect(dropped.length).toBeGreaterThan(0);
  });
});
