import { describe, expect, it } from '@jest/globals';
import { METADATA_POLICY_MAX_BYTES } from './logging.constants.js';
import {
  AuditMetadataError,
  DENIED_KEY_WORDS,
  METADATA_POLICY_DEFAULTS,
  type MetadataDrop,
  type MetadataPolicyOptions,
  type MetadataRule,
  resolveMetadataPolicy,
  sanitizeMetadata,
} from './metadata-policy.js';

const UUID_A = '6f1c2a8e-3b7d-4e2a-9c1f-0a1b2c3d4e5f';
const UUID_B = 'a3b8d1b6-0b3b-4b1a-9c1a-1a2b3c4d5e6f';
const UUID_C = 'c0ffee00-dead-4bee-8f00-abcdefabcdef';

/** Metadata the policy must store as it is. */
const LEGIT = {
  fileCount: 3,
  pages: 120,
  model: 'gemini-3.1-pro',
  projectId: UUID_A,
  fileIds: [UUID_B, UUID_C],
  reviewed: true,
  inputTokens: 1200,
  stage: 'ocr_done',
  counts: { rows: 45 },
};

const DEFAULT = resolveMetadataPolicy({ mode: 'heuristic' });

function sanitize(input: unknown, options?: MetadataPolicyOptions) {
  return sanitizeMetadata(
    input,
    resolveMetadataPolicy({ mode: 'heuristic', ...options }),
  );
}

/** The drops as `[path, rule]` pairs. */
const drops = (dropped: readonly MetadataDrop[]) =>
  dropped.map((d) => [d.path, d.rule]);

/** The rule that drops `value` stored under the innocent key `ref`. */
function ruleOf(value: unknown, options?: MetadataPolicyOptions) {
  const { metadata, dropped } = sanitize({ ref: value }, options);
  if (dropped.length === 0) return metadata.ref;
  expect(dropped).toHaveLength(1);
  expect(dropped[0].path).toBe('ref');
  expect(metadata).toEqual({});
  return dropped[0].rule;
}

const jsonBytes = (value: unknown) =>
  Buffer.byteLength(JSON.stringify(value), 'utf8');

describe('legitimate metadata', () => {
  it('passes unchanged, as a new object', () => {
    const { metadata, dropped } = sanitizeMetadata(LEGIT, DEFAULT);
    expect(metadata).toEqual(LEGIT);
    expect(dropped).toEqual([]);
    expect(metadata).not.toBe(LEGIT);
    expect(metadata.fileIds).not.toBe(LEGIT.fileIds);
    expect(metadata.counts).not.toBe(LEGIT.counts);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(metadata.counts)).toBe(Object.prototype);
  });

  it('keeps the order of the keys', () => {
    const { metadata } = sanitizeMetadata(
      { b: 1, amount: 5, a: 2, c: 3 },
      DEFAULT,
    );
    expect(Object.keys(metadata)).toEqual(['b', 'a', 'c']);
  });

  it('gives {} for null and undefined', () => {
    expect(sanitizeMetadata(null, DEFAULT)).toEqual({
      metadata: {},
      dropped: [],
    });
    expect(sanitizeMetadata(undefined, DEFAULT)).toEqual({
      metadata: {},
      dropped: [],
    });
  });

  it('accepts a null-prototype object and gives a plain one', () => {
    const input = Object.assign(Object.create(null) as object, { pages: 2 });
    const { metadata, dropped } = sanitizeMetadata(input, DEFAULT);
    expect(metadata).toEqual({ pages: 2 });
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(dropped).toEqual([]);
  });

  it('keeps objects and arrays emptied by the policy, and empty ones', () => {
    const { metadata, dropped } = sanitizeMetadata(
      { counts: { amount: 5 }, refs: ['x y'], empty: {}, none: [] },
      DEFAULT,
    );
    expect(metadata).toEqual({ counts: {}, refs: [], empty: {}, none: [] });
    expect(drops(dropped)).toEqual([
      ['counts.amount', 'denied_key'],
      ['refs[0]', 'not_an_identifier'],
    ]);
  });

  it('accepts hand-made policies as the policy', () => {
    const heuristic = {
      ...METADATA_POLICY_DEFAULTS,
      mode: 'heuristic' as const,
    };
    expect(sanitizeMetadata(LEGIT, heuristic).metadata).toEqual(LEGIT);
    const strict = { ...heuristic, strict: true };
    expect(() => sanitizeMetadata({ amount: 1 }, strict)).toThrow(
      AuditMetadataError,
    );
    expect(() =>
      sanitizeMetadata({}, { ...METADATA_POLICY_DEFAULTS, maxDepth: -1 }),
    ).toThrow('audit.metadataPolicy.maxDepth');
  });
});

describe('input that is not a plain object', () => {
  class Project {
    pages = 3;
  }
  it.each([
    ['an array', [1, 2]],
    ['a string', 'metadata'],
    ['a number', 42],
    ['a boolean', true],
    ['a Date', new Date(0)],
    ['a class instance', new Project()],
    ['a Map', new Map([['pages', 3]])],
    ['a function', () => ({ pages: 3 })],
    ['a Buffer', Buffer.from('{}')],
  ])('is dropped whole: %s', (_, input) => {
    expect(sanitizeMetadata(input, DEFAULT)).toEqual({
      metadata: {},
      dropped: [{ path: '', rule: 'unsupported_type' }],
    });
  });
});

describe('keys', () => {
  it.each([
    'file-count',
    'file count',
    '1stPage',
    '_private',
    '',
    'a'.repeat(65),
    'user@example.com',
    'ब्याज',
  ])('refuses %j as invalid_key and does not show it', (key) => {
    const { metadata, dropped } = sanitizeMetadata({ [key]: 1 }, DEFAULT);
    expect(metadata).toEqual({});
    expect(drops(dropped)).toEqual([['<redacted>', 'invalid_key']]);
  });

  it('accepts 64 characters', () => {
    const key = `k${'a'.repeat(63)}`;
    expect(sanitizeMetadata({ [key]: 1 }, DEFAULT).metadata).toEqual({
      [key]: 1,
    });
  });

  it.each(['ABCPE1234F', 'abcpe1234f', 'pan_ABCPE1234F', 'x9876543210'])(
    'refuses the identity number %j as a key and does not show it',
    (key) => {
      const { metadata, dropped } = sanitizeMetadata({ [key]: 1 }, DEFAULT);
      expect(metadata).toEqual({});
      expect(drops(dropped)).toEqual([['<redacted>', 'identity_number']]);
    },
  );

  it('refuses __proto__, constructor and prototype, by name, without polluting anything', () => {
    const input = JSON.parse(
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}, "prototype": 1, "pages": 2}',
    ) as object;
    const { metadata, dropped } = sanitizeMetadata(input, DEFAULT);
    expect(metadata).toEqual({ pages: 2 });
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toEqual(['pages']);
    expect(drops(dropped)).toEqual([
      ['__proto__', 'invalid_key'],
      ['constructor', 'invalid_key'],
      ['prototype', 'invalid_key'],
    ]);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    const nested = sanitizeMetadata(
      { counts: JSON.parse('{"__proto__": {"rows": 1}, "rows": 2}') as object },
      DEFAULT,
    );
    expect(nested.metadata).toEqual({ counts: { rows: 2 } });
    expect(drops(nested.dropped)).toEqual([
      ['counts.__proto__', 'invalid_key'],
    ]);
  });

  it('ignores symbol keys and non-enumerable properties', () => {
    const input: Record<string | symbol, unknown> = {
      pages: 1,
      [Symbol('amount')]: 150000,
    };
    Object.defineProperty(input, 'hidden', { value: 5, enumerable: false });
    expect(sanitizeMetadata(input, DEFAULT)).toEqual({
      metadata: { pages: 1 },
      dropped: [],
    });
  });

  it.each([
    'amount',
    'amounts',
    'totalAmount',
    'amount_inr',
    'closing_balance',
    'Balances',
    'revenue',
    'netProfit',
    'losses',
    'salary',
    'turnover',
    'unitPrice',
    'pan',
    'PAN',
    'panNumber',
    'userPANNumber',
    'PANs',
    'clientPans',
    'gstin',
    'GSTINs',
    'gst_no',
    'tan',
    'aadhaar',
    'aadharNo',
    'bankAccount',
    'account_no',
    'acct',
    'IFSC',
    'iban',
    'swiftCode',
    'cardLast4',
    'email',
    'emails',
    'phone',
    'mobileNo',
    'ipAddress',
    'dob',
    'dateOfBirth',
    'name',
    'clientName',
    'fileNames',
    'password',
    'passwd',
    'pwd',
    'passphrase',
    'secret',
    'token',
    'accessToken',
    'apikey',
    'apiKey',
    'api_key',
    'APIKey',
    'APIKEY',
    'openaiApiKeyId',
    'apiKeys',
    'authorization',
    'auth',
    'authHeader',
    'cookie',
    'sessionId',
    'credentials',
    'otp',
    'pinCode',
    'cvv',
  ])('denies %s, without reading its value', (key) => {
    let read = false;
    const input = {};
    Object.defineProperty(input, key, {
      enumerable: true,
      get() {
        read = true;
        return 'ok';
      },
    });
    const { metadata, dropped } = sanitizeMetadata(input, DEFAULT);
    expect(metadata).toEqual({});
    expect(drops(dropped)).toEqual([[key, 'denied_key']]);
    expect(read).toBe(false);
  });

  it.each([
    'inputTokens',
    'outputTokens',
    'tokens',
    'costUsd',
    'pages',
    'panel',
    'expand',
    'company',
    'keyCount',
    'apiVersion',
    'authorId',
    'accountant',
    'named',
    'pinned',
    'requestId',
    'fileIds',
    'URLs',
  ])('does not deny %s', (key) => {
    expect(sanitizeMetadata({ [key]: 1 }, DEFAULT)).toEqual({
      metadata: { [key]: 1 },
      dropped: [],
    });
  });

  it('lists the denied words, frozen, without tokens or cost', () => {
    expect(Object.isFrozen(DENIED_KEY_WORDS)).toBe(true);
    expect(DENIED_KEY_WORDS).toEqual(
      expect.arrayContaining(['amount', 'pan', 'gstin', 'aadhaar', 'token']),
    );
    expect(DENIED_KEY_WORDS).not.toContain('tokens');
    expect(DENIED_KEY_WORDS).not.toContain('cost');
  });

  it('denies the words of the deniedKeys option too, matched like the built-in ones', () => {
    const policy = resolveMetadataPolicy({
      mode: 'heuristic',
      deniedKeys: ['client', 'bankRef'],
    });
    const denied = [
      'client',
      'clientId',
      'CLIENT',
      'old_client_ref',
      'bankRef',
      'bank_ref',
      'oldBankRefId',
    ];
    const allowed = ['clients', 'bank', 'ref', 'bankRefs', 'refBank'];
    const input = Object.fromEntries(
      [...denied, ...allowed].map((k) => [k, 1]),
    );
    const { metadata, dropped } = sanitizeMetadata(input, policy);
    expect(Object.keys(metadata)).toEqual(allowed);
    expect(drops(dropped)).toEqual(denied.map((k) => [k, 'denied_key']));
    // The default policy is not changed.
    expect(sanitizeMetadata({ clientId: 1 }, DEFAULT).dropped).toEqual([]);
  });
});

describe('values', () => {
  it.each([
    ['0', 0],
    ['1', 1],
    ['maxCount', 1_000_000],
  ])('accepts the count %s', (_, count) => {
    expect(ruleOf(count)).toBe(count);
  });

  it('stores -0 as 0', () => {
    expect(Object.is(ruleOf(-0), 0)).toBe(true);
  });

  it.each([
    ['a negative number', -1],
    ['a decimal', 1.5],
    ['an amount in paise', 150000.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['more than maxCount', 1_000_001],
    ['an Aadhaar number', 234567890123],
    ['an account number', 123456789012345],
    ['an unsafe integer', 2 ** 53],
  ])('refuses %s as not_a_count', (_, value) => {
    expect(ruleOf(value)).toBe('not_a_count');
  });

  it('applies maxCount', () => {
    expect(ruleOf(10, { maxCount: 10 })).toBe(10);
    expect(ruleOf(11, { maxCount: 10 })).toBe('not_a_count');
  });

  it.each([true, false, null])('accepts %s', (value) => {
    expect(ruleOf(value)).toBe(value);
  });

  it.each([
    UUID_A,
    UUID_A.toUpperCase(),
    '00000000-0000-0000-0000-000000000000',
    '0190f0a4-5c3e-7c1b-9d2e-3f4a5b6c7d8e',
  ])('accepts the UUID %s', (uuid) => {
    expect(ruleOf(uuid)).toBe(uuid);
  });

  it.each([
    'ocr_done',
    'gemini-3.1-pro',
    'models:x',
    'a',
    'v2',
    'BadRequestException',
    'stage.ocr:page-12',
    `s${'x'.repeat(63)}`,
  ])('accepts the identifier %j', (value) => {
    expect(ruleOf(value)).toBe(value);
  });

  it.each([
    ['empty', ''],
    ['free text', 'Balance sheet shows loss'],
    ['a space', 'ocr done'],
    ['an email', 'ca@firm.in'],
    ['a leading digit', '1abc'],
    ['a number as a string', '150000'],
    ['an amount', '1,50,000.00'],
    ['an amount in lakh', '₹ 25 lakh'],
    ['an amount with a currency', 'INR15000'],
    ['an amount in rupees', 'Rs.2500'],
    ['an amount in a reference', 'fee_usd_20'],
    ['a slash', 'models/gemini'],
    ['a UUID with a space', `${UUID_A} `],
    ['65 characters', `s${'x'.repeat(64)}`],
    ['a newline', 'ocr\ndone'],
  ])('refuses %s as not_an_identifier', (_, value) => {
    expect(ruleOf(value)).toBe('not_an_identifier');
  });

  it('applies maxStringLength to identifiers, not to UUIDs', () => {
    expect(ruleOf('abcd', { maxStringLength: 4 })).toBe('abcd');
    expect(ruleOf('abcde', { maxStringLength: 4 })).toBe('not_an_identifier');
    expect(ruleOf(UUID_A, { maxStringLength: 4 })).toBe(UUID_A);
  });

  it.each([
    ['a PAN', 'ABCPE1234F'],
    ['a PAN in lowercase', 'abcpe1234f'],
    ['a PAN after a separator', 'pan_ABCPE1234F'],
    ['a PAN inside, in capitals', 'refABCPE1234F'],
    ['a TAN', 'MUMA12345B'],
    ['an IFSC', 'HDFC0001234'],
    ['an IFSC in lowercase', 'hdfc0001234'],
    ['an IFSC after a separator', 'branch:SBIN0000300'],
    ['a GSTIN inside', 'gstin27AAPFU0939F1ZV'],
    ['an account number inside', 'acct00012345678'],
    ['6 digits', 'x123456'],
    ['a phone number inside', 'tel9876543210'],
    ['an Aadhaar number in groups', 'x2345-6789-0123'],
    ['a card number in groups', 'c4111.1111.1111.1111'],
  ])('refuses %s as identity_number', (_, value) => {
    expect(ruleOf(value)).toBe('identity_number');
  });

  it('does not take UUIDs, versions or short digit runs for identity numbers', () => {
    for (const value of [
      'c0123456-7890-4123-8456-789012345678',
      'gemini-2.5-flash',
      'v1.2.3',
      'page12345',
      'batch_2024_07',
      'FY2024-25',
      'asof-2024-07-15',
      'v20.19.43',
      'gpt-4o-2024-08-06',
    ]) {
      expect(ruleOf(value)).toBe(value);
    }
  });

  it.each([
    ['a BigInt', 10n],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a Date', new Date(0)],
    ['a Buffer', Buffer.from('ABCPE1234F')],
    ['a typed array', new Uint8Array([1, 2])],
    ['a Map', new Map()],
    ['a Set', new Set([1])],
    ['a RegExp', /x/],
    ['a boxed string', new String('ok')],
    ['an Error', new Error('Balance 150000')],
    ['a class instance', new (class Ref {})()],
    ['a Promise', Promise.resolve(1)],
  ])('refuses %s as unsupported_type', (_, value) => {
    expect(ruleOf(value)).toBe('unsupported_type');
  });

  it('leaves undefined values out without a report', () => {
    expect(
      sanitizeMetadata(
        { a: undefined, b: 1, list: [undefined, 2], c: { d: undefined } },
        DEFAULT,
      ),
    ).toEqual({ metadata: { b: 1, list: [2], c: {} }, dropped: [] });
  });
});

describe('arrays', () => {
  it('drops bad elements one by one, naming their index', () => {
    const { metadata, dropped } = sanitizeMetadata(
      {
        fileIds: [UUID_A, 'a b', UUID_B, 1.5],
        files: [{ pages: 1 }, { pages: 2 }, { pages: 3, name: 'x' }],
      },
      DEFAULT,
    );
    expect(metadata).toEqual({
      fileIds: [UUID_A, UUID_B],
      files: [{ pages: 1 }, { pages: 2 }, { pages: 3 }],
    });
    expect(drops(dropped)).toEqual([
      ['fileIds[1]', 'not_an_identifier'],
      ['fileIds[3]', 'not_a_count'],
      ['files[2].name', 'denied_key'],
    ]);
  });

  it('drops an array longer than maxArrayLength whole', () => {
    const accepted = Array.from({ length: 100 }, (_, i) => i);
    expect(ruleOf(accepted)).toEqual(accepted);
    expect(ruleOf([...accepted, 100])).toBe('array_too_long');
    expect(ruleOf([1, 2], { maxArrayLength: 1 })).toBe('array_too_long');
    expect(ruleOf([], { maxArrayLength: 0 })).toEqual([]);
  });

  it('does not walk a huge sparse array', () => {
    const huge: unknown[] = [];
    huge.length = 2 ** 32 - 1;
    expect(ruleOf(huge)).toBe('array_too_long');
  });

  it('leaves holes out', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(ruleOf([1, , 3])).toEqual([1, 3]);
  });
});

describe('depth', () => {
  it('accepts objects down to maxDepth, the metadata object being at depth 0', () => {
    const input = { a: { b: { c: { d: 1 } } } };
    expect(sanitizeMetadata(input, DEFAULT)).toEqual({
      metadata: input,
      dropped: [],
    });
  });

  it('drops an object or array deeper than maxDepth whole', () => {
    const { metadata, dropped } = sanitizeMetadata(
      { a: { b: { c: { d: { e: 1 }, f: [1], g: 2 } } } },
      DEFAULT,
    );
    expect(metadata).toEqual({ a: { b: { c: { g: 2 } } } });
    expect(drops(dropped)).toEqual([
      ['a.b.c.d', 'too_deep'],
      ['a.b.c.f', 'too_deep'],
    ]);
  });

  it('counts arrays as a level', () => {
    const { metadata, dropped } = sanitizeMetadata(
      { files: [{ pages: [1, 2], counts: { rows: [3] } }] },
      DEFAULT,
    );
    expect(metadata).toEqual({ files: [{ pages: [1, 2], counts: {} }] });
    expect(drops(dropped)).toEqual([['files[0].counts.rows', 'too_deep']]);
  });

  it('allows flat metadata only with maxDepth 0', () => {
    const { metadata, dropped } = sanitize(
      { pages: 1, counts: { rows: 1 }, ids: [] },
      { maxDepth: 0 },
    );
    expect(metadata).toEqual({ pages: 1 });
    expect(drops(dropped)).toEqual([
      ['counts', 'too_deep'],
      ['ids', 'too_deep'],
    ]);
  });

  it('bounds a cycle by the depth', () => {
    const cyclic: Record<string, unknown> = { pages: 1 };
    cyclic.self = cyclic;
    const list: unknown[] = [1];
    list.push(list);
    const { metadata, dropped } = sanitizeMetadata({ cyclic, list }, DEFAULT);
    expect(metadata).toEqual({
      cyclic: { pages: 1, self: { pages: 1, self: { pages: 1 } } },
      list: [1, [1, [1]]],
    });
    expect(drops(dropped)).toEqual([
      ['cyclic.self.self.self', 'too_deep'],
      ['list[1][1][1]', 'too_deep'],
    ]);
  });
});

describe('size', () => {
  it('computes the size exactly: a result of maxBytes bytes passes', () => {
    const input = { ...LEGIT, note: 'x'.repeat(10) };
    const size = jsonBytes(input);
    expect(sanitize(input, { maxBytes: size })).toEqual({
      metadata: input,
      dropped: [],
    });
    expect(drops(sanitize(input, { maxBytes: size - 1 }).dropped)).toEqual([
      ['note', 'too_large'],
    ]);
  });

  it('drops top-level keys from the last one back until the rest fits', () => {
    const input = {
      a: 'x'.repeat(40),
      big: Array.from({ length: 50 }, () => UUID_A),
      c: 1,
      amount: 5,
      d: undefined,
    };
    const { metadata, dropped } = sanitize(input, { maxBytes: 100 });
    expect(metadata).toEqual({ a: input.a });
    expect(drops(dropped)).toEqual([
      ['amount', 'denied_key'],
      ['big', 'too_large'],
      ['c', 'too_large'],
    ]);
    expect(jsonBytes(metadata)).toBeLessThanOrEqual(100);
  });

  it('does not report what was inside a value dropped as too_large', () => {
    const { metadata, dropped } = sanitize(
      { pages: 1, files: [{ name: 'x' }, 'y'.repeat(30), 'z z'] },
      { maxBytes: 30 },
    );
    expect(metadata).toEqual({ pages: 1 });
    expect(drops(dropped)).toEqual([['files', 'too_large']]);
  });

  it('stays within the default maxBytes', () => {
    const input = Object.fromEntries(
      Array.from({ length: 400 }, (_, i) => [`key${i}`, UUID_A]),
    );
    const { metadata, dropped } = sanitizeMetadata(input, DEFAULT);
    const bytes = jsonBytes(metadata);
    expect(bytes).toBeLessThanOrEqual(METADATA_POLICY_MAX_BYTES);
    expect(bytes).toBeGreaterThan(METADATA_POLICY_MAX_BYTES - 50);
    expect(Object.keys(metadata).length + dropped.length).toBe(400);
    expect(new Set(dropped.map((d) => d.rule))).toEqual(new Set(['too_large']));
  });

  it('counts the bytes as JSON.stringify does, for every maxBytes', () => {
    const input = {
      ...LEGIT,
      empty: {},
      list: [[], {}, null, false, 0, -0],
      nested: { deeper: { ids: [UUID_A, 'ref:1'] } },
    };
    const total = jsonBytes(input);
    for (let maxBytes = 2; maxBytes <= total; maxBytes++) {
      const { metadata, dropped } = sanitize(input, { maxBytes });
      expect(jsonBytes(metadata)).toBeLessThanOrEqual(maxBytes);
      // The longest prefix of the keys that fits is kept.
      const keys = Object.keys(input);
      const kept = Object.keys(metadata);
      expect(kept).toEqual(keys.slice(0, kept.length));
      if (kept.length < keys.length) {
        const next = Object.fromEntries(
          keys
            .slice(0, kept.length + 1)
            .map((k) => [k, input[k as keyof typeof input]]),
        );
        expect(jsonBytes(next)).toBeGreaterThan(maxBytes);
      }
      expect(dropped.length).toBe(keys.length - kept.length);
    }
  });
});

describe('strict mode', () => {
  const STRICT = resolveMetadataPolicy({ mode: 'heuristic', strict: true });

  it('passes legitimate metadata', () => {
    expect(sanitizeMetadata(LEGIT, STRICT)).toEqual({
      metadata: LEGIT,
      dropped: [],
    });
    expect(
      sanitizeMetadata({ pages: 1, skipped: undefined }, STRICT).metadata,
    ).toEqual({ pages: 1 });
  });

  it('refuses metadata it would trim, naming paths and rules, never values', () => {
    let error: unknown;
    try {
      sanitizeMetadata(
        {
          amount: 150000,
          note: 'Balance sheet shows loss',
          files: [{ pages: 2 }, { ref: 'ABCPE1234F' }],
          ABCPE1234F: 1,
          ok: 1,
        },
        STRICT,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AuditMetadataError);
    const refused = error as AuditMetadataError;
    expect(refused.name).toBe('AuditMetadataError');
    expect(refused).toBeInstanceOf(Error);
    expect(drops(refused.dropped)).toEqual([
      ['amount', 'denied_key'],
      ['note', 'not_an_identifier'],
      ['files[1].ref', 'identity_number'],
      ['<redacted>', 'identity_number'],
    ]);
    expect(refused.message).toBe(
      'audit metadata refused by the policy: amount (denied_key), note (not_an_identifier), ' +
        'files[1].ref (identity_number), <redacted> (identity_number)',
    );
    for (const value of ['150000', 'Balance', 'ABCPE1234F', '1234']) {
      expect(refused.message).not.toContain(value);
    }
    expect(Object.isFrozen(refused.dropped)).toBe(true);
  });

  it('refuses input that is not a plain object, and metadata too large', () => {
    expect(() => sanitizeMetadata([1], STRICT)).toThrow(
      'audit metadata refused by the policy: (root) (unsupported_type)',
    );
    expect(() =>
      sanitize({ note: 'x'.repeat(20) }, { strict: true, maxBytes: 10 }),
    ).toThrow('audit metadata refused by the policy: note (too_large)');
  });
});

describe('hostile input', () => {
  it('drops a property whose getter throws', () => {
    const input = {
      pages: 1,
      get ref(): string {
        throw new Error('ABCPE1234F');
      },
      counts: {
        get rows(): number {
          throw new Error('boom');
        },
      },
    };
    const { metadata, dropped } = sanitizeMetadata(input, DEFAULT);
    expect(metadata).toEqual({ pages: 1, counts: {} });
    expect(drops(dropped)).toEqual([
      ['ref', 'unsupported_type'],
      ['counts.rows', 'unsupported_type'],
    ]);
  });

  it('reads a Proxy of a plain object through its traps, into a new object', () => {
    const proxy = new Proxy({ pages: 2, amount: 5 }, {});
    const { metadata, dropped } = sanitizeMetadata({ counts: proxy }, DEFAULT);
    expect(metadata).toEqual({ counts: { pages: 2 } });
    expect(metadata.counts).not.toBe(proxy);
    expect(drops(dropped)).toEqual([['counts.amount', 'denied_key']]);
  });

  it('drops Proxies whose traps throw, and revoked ones', () => {
    const throwing = <T extends object>(
      target: T,
      trap: keyof ProxyHandler<T>,
    ) =>
      new Proxy(target, {
        [trap]() {
          throw new Error('trap');
        },
      });
    const { proxy: revoked, revoke } = Proxy.revocable({ pages: 1 }, {});
    revoke();
    const input = {
      keys: throwing({ pages: 1 }, 'ownKeys'),
      proto: throwing({ pages: 1 }, 'getPrototypeOf'),
      get: throwing({ pages: 1 }, 'get'),
      length: throwing([1], 'get'),
      revoked,
    };
    const { metadata, dropped } = sanitizeMetadata(input, DEFAULT);
    expect(metadata).toEqual({ get: {} });
    expect(drops(dropped)).toEqual([
      ['keys', 'unsupported_type'],
      ['proto', 'unsupported_type'],
      ['get.pages', 'unsupported_type'],
      ['length', 'unsupported_type'],
      ['revoked', 'unsupported_type'],
    ]);
    expect(sanitizeMetadata(revoked, DEFAULT).dropped).toEqual([
      { path: '', rule: 'unsupported_type' },
    ]);
  });

  it('does not call toJSON, valueOf or toString', () => {
    let called = false;
    const spy = () => {
      called = true;
      return 'ABCPE1234F';
    };
    const input = { counts: { rows: 1, toJSON: spy, valueOf: spy } };
    const { metadata } = sanitizeMetadata(input, DEFAULT);
    expect(called).toBe(false);
    expect(metadata).toEqual({ counts: { rows: 1 } });
  });
});

describe('sensitive data', () => {
  /** Each value, and the digits in it, must not reach the stored metadata. */
  const SENSITIVE: [string, unknown][] = [
    ['an amount', 150000.5],
    ['an amount as text', '1,50,000.00'],
    ['an amount in lakh', '₹ 25 lakh'],
    ['an amount with a currency', 'INR150000'],
    ['a negative balance', -2500000],
    ['a balance as text', '-25,00,000.00 Dr'],
    ['a PAN', 'ABCPE1234F'],
    ['a PAN in lowercase', 'abcpe1234f'],
    ['a GSTIN', '27AAPFU0939F1ZV'],
    ['an Aadhaar number in groups', '2345 6789 0123'],
    ['an Aadhaar number', '234567890123'],
    ['an Aadhaar number as a number', 234567890123],
    ['a bank account number', '000123456789'],
    ['a bank account reference', 'acct00012345678'],
    ['an IFSC', 'HDFC0001234'],
    ['an email', 'ramesh.kumar@example.com'],
    ['a phone number', '+91 98765 43210'],
    ['a phone number as a reference', 'm9876543210'],
    ['free text', 'Balance sheet shows loss'],
    ['a BigInt balance', 2500000n],
    ['a Date of birth', new Date('1980-01-02')],
  ];

  /** Where each sensitive value is put, under innocent keys. */
  const place = (value: unknown) => ({
    ...LEGIT,
    ref: value,
    note: value,
    x: [value, 'ok', value],
    data: {
      ref: value,
      list: [value, { x: value }],
      deeper: { x: [value] },
    },
  });

  const fingerprints = (value: unknown): string[] => {
    const text = typeof value === 'bigint' ? String(value) : String(value);
    const digits = text.replace(/\D/g, '');
    const out = [text];
    if (digits.length >= 4) out.push(digits);
    if (value instanceof Date) out.push(value.toISOString(), '1980');
    return out;
  };

  it.each(SENSITIVE)(
    'keeps out %s, wherever it is put, and keeps the rest',
    (_, value) => {
      const { metadata, dropped } = sanitizeMetadata(place(value), DEFAULT);
      expect(metadata).toEqual({
        ...LEGIT,
        x: ['ok'],
        data: { list: [{}], deeper: { x: [] } },
      });
      expect(dropped).toHaveLength(8);
      const json = JSON.stringify(metadata);
      for (const fingerprint of fingerprints(value)) {
        expect(json).not.toContain(fingerprint);
      }
      const paths = JSON.stringify(dropped);
      for (const fingerprint of fingerprints(value)) {
        expect(paths).not.toContain(fingerprint);
      }
    },
  );

  it('keeps out sensitive data under telling keys, even when shaped like a count or an identifier', () => {
    const { metadata, dropped } = sanitizeMetadata(
      {
        amount: 150000,
        balance: 250000,
        pan: 'ABCPE',
        gstin: 'GST',
        ifscCode: 'HDFC',
        clientName: 'Acme',
        email: 'ramesh',
        phone: 987654,
        ...LEGIT,
      },
      DEFAULT,
    );
    expect(metadata).toEqual(LEGIT);
    expect(dropped.map((d) => d.rule)).toEqual(Array(8).fill('denied_key'));
  });

  it('keeps out identity numbers used as keys, without showing them', () => {
    const { metadata, dropped } = sanitizeMetadata(
      {
        ABCPE1234F: 1,
        'ramesh@example.com': 2,
        '234567890123': 3,
        HDFC0001234: 4,
        ...LEGIT,
      },
      DEFAULT,
    );
    expect(metadata).toEqual(LEGIT);
    const text = JSON.stringify(dropped);
    for (const value of ['ABCPE1234F', 'ramesh', '234567890123', 'HDFC']) {
      expect(text).not.toContain(value);
    }
    expect(dropped.map((d) => d.rule).sort()).toEqual([
      'identity_number',
      'identity_number',
      'invalid_key',
      'invalid_key',
    ] satisfies MetadataRule[]);
  });
});

describe('options', () => {
  it('has frozen defaults, which resolveMetadataPolicy() gives', () => {
    expect(METADATA_POLICY_DEFAULTS).toEqual({
      mode: 'declared',
      strict: false,
      maxCount: 1_000_000,
      maxStringLength: 64,
      maxArrayLength: 100,
      maxDepth: 3,
      maxBytes: METADATA_POLICY_MAX_BYTES,
      deniedKeys: [],
    });
    expect(Object.isFrozen(METADATA_POLICY_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(METADATA_POLICY_DEFAULTS.deniedKeys)).toBe(true);
    expect(resolveMetadataPolicy()).toEqual(METADATA_POLICY_DEFAULTS);
    expect(resolveMetadataPolicy({})).toEqual(METADATA_POLICY_DEFAULTS);
  });

  it('merges the options given and freezes the result, with a copy of deniedKeys', () => {
    const deniedKeys = ['client'];
    const policy = resolveMetadataPolicy({
      mode: 'heuristic',
      strict: true,
      maxDepth: 0,
      maxBytes: undefined,
      deniedKeys,
    });
    expect(policy).toEqual({
      ...METADATA_POLICY_DEFAULTS,
      mode: 'heuristic',
      strict: true,
      maxDepth: 0,
      deniedKeys: ['client'],
    });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.deniedKeys)).toBe(true);
    deniedKeys.push('other');
    expect(policy.deniedKeys).toEqual(['client']);
    expect(() => sanitizeMetadata({ other: 1 }, policy)).not.toThrow();
  });

  it.each([
    ['strict', 'yes', 'a boolean'],
    ['maxCount', -1, 'an integer of at least 0'],
    ['maxCount', 1.5, 'an integer of at least 0'],
    ['maxCount', 2 ** 53, 'an integer of at least 0'],
    ['maxCount', '10', 'an integer of at least 0'],
    ['maxStringLength', 0, 'an integer of at least 1'],
    ['maxArrayLength', -1, 'an integer of at least 0'],
    ['maxArrayLength', Number.POSITIVE_INFINITY, 'an integer of at least 0'],
    ['maxDepth', -1, 'an integer of at least 0'],
    ['maxDepth', Number.NaN, 'an integer of at least 0'],
    ['maxBytes', 1, `an integer from 2 to ${METADATA_POLICY_MAX_BYTES}`],
    [
      'maxBytes',
      METADATA_POLICY_MAX_BYTES + 1,
      `an integer from 2 to ${METADATA_POLICY_MAX_BYTES}`,
    ],
    ['deniedKeys', 'amount', 'an array of keys'],
    ['deniedKeys', ['ok', 'two words'], 'an array of keys'],
    ['deniedKeys', [1], 'an array of keys'],
  ])('refuses %s: %p', (field, bad, rule) => {
    expect(() => resolveMetadataPolicy({ [field]: bad })).toThrow(
      `LoggingModule option audit.metadataPolicy.${field} must be ${rule}`,
    );
  });

  it('refuses options that are not an object', () => {
    for (const bad of [null, 'strict', [], 1]) {
      expect(() =>
        resolveMetadataPolicy(bad as unknown as MetadataPolicyOptions),
      ).toThrow('LoggingModule option audit.metadataPolicy must be an object');
    }
  });
});
