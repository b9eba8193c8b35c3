import { redactSensitive, scrubFreeText } from './free-text.js';
import {
  detectIdentity,
  detectSensitive,
  idHidesIdentity,
  spellsIdentityNumber,
} from './sensitive-values.js';

/** The detectors, one rule per case: identity data, amounts, and what they leave be. */

describe('detectIdentity', () => {
  it.each([
    ['a PAN', 'ABCPE1234F', 'pan'],
    ['a PAN in a reference column', 'kyc:ABCPE1234F', 'pan'],
    ['a PAN with repeated separators', 'ABCPE--1234--F', 'pan'],
    ['a PAN cut inside a word', 'xABCP_E123_4F', 'pan'],
    ['a PAN in Cyrillic look-alikes', 'АВСРЕ1234F', 'pan'],
    ['a PAN in base64', 'QUJDUEUxMjM0Rg', 'pan'],
    ['a TAN with separators', 'MUMA-1234-5B', 'tan'],
    ['a GSTIN with its check character', '27AAPFU0939F1ZV', 'gstin'],
    ['an IFSC', 'HDFC0001234', 'ifsc'],
    ['an Aadhaar number (Verhoeff)', 'x4991-1866-5246', 'aadhaar'],
    ['an Aadhaar number with double dashes', '4991--1866--5246', 'aadhaar'],
    ['a card number (Luhn, Visa)', 'c4111.1111.1111.1111', 'card'],
    ['a mobile number', 'tel9876543210', 'phone'],
    ['a mobile number after 91', 'm_91_98765_43210', 'phone'],
    ['an account number', 'acct30123456789012', 'long_number'],
    ['an e-mail spelled out', 'cfo_at_acme-industries_dot_com', 'email'],
    [
      'an Aadhaar number in a UUID',
      '00000000-0000-4000-8000-499118665246',
      'aadhaar',
    ],
  ])('finds %s', (_, value, kind) => {
    expect(detectIdentity(value)).toBe(kind);
  });

  it('does not look for amounts', () => {
    expect(detectIdentity('INR15000')).toBeNull();
    expect(detectSensitive('INR15000')).toBe('amount');
  });

  it.each([
    'INV-2026-000123',
    'batch_20260415',
    'batch_20260415_0003',
    'IMG_20240415_103000.jpg',
    'claude-3-5-sonnet-20241022',
    'gpt-4o-2024-08-06',
    'o1-2024-12-17',
    'anthropic.claude-3-5-sonnet-20241022-v2:0',
    'meta.llama3-1-405b-instruct-v1:0',
    'chatcmpl-9pXyZ2aBcDeFgHiJkLmNoPqRsTuV',
    'req_011CRk2Zt8Q5vJ1yXw3nP7aB',
    'msg_01XFDUDYJgAACzvnptvVoYEL',
    '01ARZ3NDEKTSV4RRFFQ69G5FAV',
    '3f2a9c1e0b8d7a6f5e4d3c2b1a0f9e8d7c6b5a49',
    'export_1713175800123.csv',
    'file0001234',
    'report_final_2024_v2',
    'upload_file',
  ])('leaves the reference %j be', (value) => {
    expect(detectSensitive(value)).toBeNull();
  });
});

describe('detectSensitive: amounts in identifiers', () => {
  it.each([
    'feeINR15000',
    'amt_15000_usd',
    'fee_aed_5000',
    'feeAED5000',
    'x15000€',
    'net150000.00',
    'x1.5L',
    'loan_2cr',
    'x4.2crore',
    'x1.5e5',
    'one_lakh_fifty_thousand',
    'x150.000',
    'x1_50_000',
    'x1,50,000',
    'amt150000',
  ])('finds the amount in %j', (value) => {
    expect(detectSensitive(value)).toBe('amount');
  });

  it('reads word-like ISO codes as currencies only in capitals', () => {
    expect(detectSensitive('top100')).toBeNull();
    expect(detectSensitive('TOP100')).toBe('amount');
    expect(detectSensitive('amd64')).toBeNull();
  });
});

describe('idHidesIdentity and spellsIdentityNumber', () => {
  it('refuses a UUID by checksum and structure, not by any digit run', () => {
    expect(idHidesIdentity('6f1c2a8e-3b7d-4e2a-9c1f-499118665246')).toBe(true);
    // twelve digits that fail Verhoeff: a random UUID's digits, not an Aadhaar number
    expect(idHidesIdentity('6f1c2a8e-3b7d-4e2a-9c1f-234567890123')).toBe(false);
  });

  it('finds a mobile number spelled by counts', () => {
    expect(spellsIdentityNumber([98765, 43210])).toBe(true);
    expect(spellsIdentityNumber([12, 7, 300])).toBe(false);
  });
});

describe('redactSensitive: free text', () => {
  it.each([
    ['Net profit fell to 4.2 crore', '4.2 crore'],
    ['paid 15000 INR today', '15000'],
    ['PAN ABCPE 1234 F on file', 'ABCPE'],
    ['aadhaar 2 3 4 5 6 7 8 9 0 1 2 3', '2 3 4 5'],
    ['aadhaar 4991 - 1866 - 5246', '5246'],
    ['call +91 (98765) 43210 now', '43210'],
    ['owes 1,50,000', '1,50,000'],
    ['mail cfo at acme-industries dot example', 'acme'],
    ['mail cfo%40acme.example', 'acme'],
    ['account 50100123456789012345 and more', '012345'],
  ])('redacts %j', (text, secret) => {
    const redacted = redactSensitive(text);
    expect(redacted).toContain('[REDACTED]');
    expect(redacted).not.toContain(secret);
  });

  it.each([
    'retry after 120000 ms',
    'model x@20240620 overloaded',
    '429 Rate limit reached for gpt-4o-2024-08-06: Limit 30000, Used 29996, Requested 1340. Please try again in 2.672s.',
    '400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > 200000 maximum"}}',
    '{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"36s"}]}}',
  ])('keeps %j as it is', (text) => {
    expect(redactSensitive(text)).toBe(text);
  });

  it('scrubs secrets first, then cuts', () => {
    expect(scrubFreeText('key=sk-abcdefghijklmnop ABCPE1234F', 100)).toBe(
      'key=[REDACTED] [REDACTED]',
    );
    expect(scrubFreeText('x'.repeat(50), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});
