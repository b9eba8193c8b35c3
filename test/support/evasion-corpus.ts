import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsUUID,
  Matches,
  Max,
  MaxLength,
} from 'class-validator';

/**
 * A generated corpus of evasions: financial and identity values written the ways a host or a
 * client may write them (case variants, separators, Unicode digits, full-width forms, invisible
 * characters, embedded in identifiers, split over array elements or keys), and carriers that put
 * them where metadata reaches a row. Each probe names the text that must never be found in the
 * tables.
 */

/** The values that must never be stored. */
export const SECRETS = {
  pan: 'ABCPE1234F',
  pan2: 'AAAPZ1234C',
  tan: 'MUMA12345B',
  gstin: '27ABCPE1234F1Z5',
  aadhaar: '234567890123',
  aadhaar2: '987654321098',
  account: '50100123456789',
  ifsc: 'HDFC0001234',
  card: '4111111111111111',
  phone: '9876543210',
  email: 'cfo@acme-industries.example',
} as const;

/** Amounts, as counts would carry them. */
export const AMOUNTS = [150_000, 999_999, 500_000, 7_319_482, 12_50_000];

/** Money words no word list holds: each is a key a host could write an amount under. */
export const MONEY_KEYS = [
  'totalamount',
  'netamount',
  'closingbalance',
  'sales',
  'fee',
  'loan',
  'emiOutstanding',
  'ctc',
  'grossReceipts',
  'tds',
  'payout',
  'overdraft',
  'networth',
  'receivables',
  'TotalAmount',
  'NETAMOUNT',
  'closing_Balance',
  'loanAmt',
  'invoiceTotal',
  'gst_payable',
];

/** One probe: the value to send, and the text whose presence in a table is a leak. */
export interface Probe {
  label: string;
  value: string;
  /** The secret as it must not appear: raw (lowercase compared) and canonical (letters, digits). */
  needle: string;
}

const DEVANAGARI = '०१२३४५६७८९';
const ARABIC_INDIC = '٠١٢٣٤٥٦٧٨٩';
const FULL_WIDTH_DIGITS = '０１２３４５６７８９';

const digitsIn = (text: string, set: string) =>
  text.replace(/\d/g, (d) => set[Number(d)]);
const fullWidth = (text: string) =>
  text.replace(/[A-Za-z0-9]/g, (c) =>
    String.fromCodePoint(c.codePointAt(0)! + 0xfee0),
  );
const mixedCase = (text: string) =>
  [...text].map((c, i) => (i % 2 ? c.toLowerCase() : c.toUpperCase())).join('');
const groups = (text: string, size: number, separator: string) =>
  text.match(new RegExp(`.{1,${size}}`, 'g'))!.join(separator);

/**
 * The written forms of one secret: ASCII only when `asciiOnly` (what an HTTP header can carry).
 */
export function variants(
  name: string,
  secret: string,
  asciiOnly = false,
): Probe[] {
  const forms: [string, string][] = [
    ['as is', secret],
    ['lowercase', secret.toLowerCase()],
    ['mixed case', mixedCase(secret)],
    ['in an identifier', `ref${secret.toLowerCase()}`],
    ['in an identifier, capitals', `doc_${secret}_v2`],
    ['between dots', `inv.${secret.toLowerCase()}.2024`],
    ['after a colon', `id:${secret}`],
    ['in groups of 4 with -', groups(secret, 4, '-')],
    ['in groups of 4 with .', groups(secret, 4, '.')],
    ['in groups of 4 with _', `x${groups(secret, 4, '_')}`],
    ['in groups of 3 with :', `k${groups(secret, 3, ':')}`],
  ];
  if (!asciiOnly) {
    forms.push(
      ['in groups of 4 with spaces', groups(secret, 4, ' ')],
      ['in Devanagari digits', digitsIn(secret, DEVANAGARI)],
      ['in Arabic-Indic digits', digitsIn(secret, ARABIC_INDIC)],
      ['in full-width digits', digitsIn(secret, FULL_WIDTH_DIGITS)],
      ['full-width', fullWidth(secret)],
      ['with zero-width spaces', [...secret].join('\u200b')],
      ['with a soft hyphen', groups(secret, 5, '\u00ad')],
      ['with non-breaking spaces', groups(secret, 4, '\u00a0')],
      ['with en dashes', groups(secret, 4, '\u2013')],
    );
  }
  return forms.map(([how, value]) => ({
    label: `${name} ${how}`,
    value,
    needle: secret,
  }));
}

/** Every secret in every written form. */
export function probes(asciiOnly = false): Probe[] {
  return Object.entries(SECRETS).flatMap(([name, secret]) =>
    variants(name, secret, asciiOnly),
  );
}

/** Amounts written as identifiers: with a currency, a unit, either side. */
export function amountProbes(): Probe[] {
  return AMOUNTS.flatMap((amount) => {
    const n = String(amount);
    return [
      ['INR', `INR${n}`],
      ['rs.', `rs.${n}`],
      ['suffix', `${n}inr`],
      ['usd_', `fee_usd_${n}`],
      ['in an identifier', `amt${n}`],
      ['lakh', `x${n.slice(0, 2)}lakh`],
    ].map(([how, value]) => ({
      label: `amount ${n} ${how}`,
      value,
      needle: how === 'lakh' ? value : n,
    }));
  });
}

/** Identity numbers as UUIDs and ULIDs: the ids a request id header may carry. */
export function idShapedProbes(): Probe[] {
  const { aadhaar, aadhaar2, account, pan } = SECRETS;
  return [
    [
      'Aadhaar in a UUID last group',
      `00000000-0000-4000-8000-${aadhaar}`,
      aadhaar,
    ],
    [
      'Aadhaar in a UUID last group, another',
      `6f1c2a8e-3b7d-4e2a-9c1f-${aadhaar2}`,
      aadhaar2,
    ],
    [
      'Aadhaar over the first UUID groups',
      `23456789-0123-4e2a-9c1f-0a1b2c3d4e5f`,
      '23456789-0123',
    ],
    [
      'account digits in a UUID',
      `6f1c2a8e-3b7d-4e2a-9c1f-${account.slice(0, 12)}`,
      account.slice(0, 12),
    ],
    [
      'PAN-shaped hex in a UUID',
      `00000000-0000-4000-8000-00abcfd1234e`,
      'abcfd1234e',
    ],
    ['PAN in a ULID', `01ARZ3NDEK${pan}XXXXXX`, pan],
    ['Aadhaar in a ULID', `01ARZ3NDEK${aadhaar}XXXX`, aadhaar],
  ].map(([label, value, needle]) => ({ label, value, needle }));
}

/** Free text a request id or an error message may carry. */
export function sentenceProbes(): Probe[] {
  const { pan, aadhaar, account, email, phone } = SECRETS;
  return [
    [`PAN ${pan} Aadhaar ${aadhaar} balance 150000`, pan],
    [`holder ${pan.toLowerCase()} owes INR 12,50,000`, pan],
    [`acct ${account} at HDFC0001234`, account],
    [`call +91 ${phone.slice(0, 5)} ${phone.slice(5)}`, phone],
    [`mail ${email} now`, email],
    [`aadhaar ${groups(aadhaar, 4, ' ')}`, aadhaar],
    [`net profit ₹4,20,00,000 this year`, '4,20,00,000'],
    [`balance ${digitsIn('7319482', DEVANAGARI)} due`, '7319482'],
  ].map(([value, needle], i) => ({
    label: `sentence ${i + 1}`,
    value,
    needle,
  }));
}

/** The action of the corpus, and what it declares. */
export const CORPUS_ACTION = 'corpus_probe';

/** What `corpus_probe` may store: a reference of a loose pattern, a kind, counts, a file id. */
export class CorpusMetadata {
  @Matches(/^[A-Za-z][A-Za-z0-9_.:-]*$/)
  @MaxLength(64)
  ref: string;

  @IsArray()
  @ArrayMaxSize(10)
  @Matches(/^[A-Za-z][A-Za-z0-9_.:-]*$/, { each: true })
  tags: string[];

  @IsIn(['bank_statement', 'invoice'])
  kind: string;

  @IsInt()
  @Max(500)
  pages: number;

  @IsArray()
  @ArrayMaxSize(10)
  @IsInt({ each: true })
  @Max(500, { each: true })
  parts: number[];

  @IsUUID()
  fileId: string;

  @IsBoolean()
  ocr: boolean;
}

/** The carriers of one probe in metadata: each a metadata object. */
export function carriers(probe: Probe): Record<string, unknown>[] {
  const value = probe.value;
  const digits = probe.needle.replace(/\D/g, '');
  const result: Record<string, unknown>[] = [
    { ref: value, pages: 3 },
    { tags: ['ok_tag', value], pages: 3 },
    { kind: value },
    { fileId: value },
    // a compound key holding the secret, and an undeclared key holding it
    { [`ref_${probe.needle.toLowerCase().replace(/[^a-z0-9]/g, '')}`]: 1 },
    { note: value, pages: 3 },
    { nested: { ref: value } },
  ];
  if (digits.length >= 9) {
    // split over array elements and over keys, as the heuristic policy let through
    const chunks = digits.match(/.{1,4}/g)!.map(Number);
    result.push(
      { parts: chunks },
      { parts: digits.match(/.{1,3}/g)!.map(Number) },
      Object.fromEntries(chunks.map((c, i) => [`p${i}`, c])),
      { pages: Number(digits.slice(0, 6)) },
    );
  }
  return result;
}

/** Amounts under money keys, as counts: the keys are not declared. */
export function moneyCarriers(): {
  label: string;
  metadata: Record<string, unknown>;
  needle: string;
}[] {
  return MONEY_KEYS.flatMap((key, i) => {
    const amount = AMOUNTS[i % AMOUNTS.length];
    return [
      {
        label: `${key}: ${amount}`,
        metadata: { [key]: amount, pages: 2 },
        needle: String(amount),
      },
      {
        label: `${key} nested`,
        metadata: { totals: { [key]: amount } },
        needle: String(amount),
      },
      {
        label: `${key} as pages`,
        metadata: { pages: amount },
        needle: String(amount),
      },
    ];
  });
}

/** The canonical form a needle is searched in: lowercase letters and ASCII digits only. */
export function canonicalNeedle(needle: string): string {
  return needle
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}
