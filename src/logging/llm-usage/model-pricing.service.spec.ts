import {
  ModelPricingService,
  type PricingOptions,
} from './model-pricing.service.js';
import { normalizeModelName } from './price-table.constants.js';
import { UnknownModelError } from './llm-usage.errors.js';
import { usageFromGemini, usageFromOpenAI } from './provider-usage.js';
import {
  TRACK_ERROR_MESSAGE_MAX_LENGTH,
  describeError,
  scrubSecrets,
} from './scrub.js';

/** Model name lookup, price options and their checks, provider usage mappers, secret scrubbing. */

const pricing = new ModelPricingService();
const modelOf = (name: string) => pricing.resolve(name)?.model;

describe('model name lookup', () => {
  it.each([
    ['gemini-2.0-flash', 'gemini-2.0-flash'],
    ['GEMINI-2.0-Flash', 'gemini-2.0-flash'],
    ['gemini-3-flash-preview', 'gemini-3-flash'],
    ['gemini-3.1-pro-preview', 'gemini-3.1-pro'],
    ['models/gemini-3-flash', 'gemini-3-flash'],
    ['models/gemini-3-flash-preview', 'gemini-3-flash'],
    ['google/gemini-2.5-pro', 'gemini-2.5-pro'],
    ['vertex_ai/gemini-2.5-flash', 'gemini-2.5-flash'],
    ['openrouter/google/gemini-2.5-flash', 'gemini-2.5-flash'],
    [
      'projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash-001',
      'gemini-2.0-flash',
    ],
    ['gemini-2.0-flash-001', 'gemini-2.0-flash'],
    ['gemini-2.0-flash@002', 'gemini-2.0-flash'],
    ['gemini-2.5-flash-latest', 'gemini-2.5-flash'],
    ['gemini-2.5-pro-preview-06-05', 'gemini-2.5-pro'],
    ['gemini-2.5-flash-preview-09-2025', 'gemini-2.5-flash'],
    ['gemini-3.1-pro-preview-11-2026', 'gemini-3.1-pro'],
    ['gemini-2.5-pro-2025-06-17', 'gemini-2.5-pro'],
    ['gemini-2.5-pro-20250617', 'gemini-2.5-pro'],
    ['Models/Gemini-3-Flash-Preview', 'gemini-3-flash'],
  ])('finds %s as %s', (name, model) => {
    expect(modelOf(name)).toBe(model);
    expect(pricing.has(name)).toBe(true);
  });

  it.each([
    'gemini-3.1-pro-ultra', // another family, though it starts with a priced name
    'gemini-3.1-pro-ultra-preview',
    'gemini-2.0-flash-lite',
    'gemini-2.0-flash-lite-001',
    'gemini-2.5-flash-lite',
    'gemini-2.5-flash-image',
    'gemini-2.0-flash-exp',
    'gemini-3-flash-thinking',
    'gemini-3',
    'gemini-3.1',
    'gemini-3.1-pr',
    'gemini-2.5-pro-x-001',
    'xgemini-3-flash',
    'gemini-3-flash-preview-2', // not a date
    'gemini-2.0-flash-1', // not a version
    'gemini-2.0-flash-101',
    'gpt-4o',
    'models/',
    '',
  ])('has no price for %j', (name) => {
    expect(pricing.resolve(name)).toBeUndefined();
    expect(() =>
      pricing.cost(name, { inputTokens: 1, outputTokens: 1 }),
    ).toThrow(UnknownModelError);
  });

  it('names the model in UnknownModelError and says how to price it', () => {
    expect(() =>
      pricing.cost('gemini-3.1-pro-ultra', { inputTokens: 1, outputTokens: 1 }),
    ).toThrow(
      /^No price for model "gemini-3\.1-pro-ultra": add it with LoggingModule\.forRoot\(\{ pricing: \{ models: .*pricing\.aliases, or give costUsd yourself$/,
    );
  });

  it('normalises conservatively', () => {
    expect(normalizeModelName('models/gemini-3-flash-preview')).toBe(
      'gemini-3-flash',
    );
    expect(normalizeModelName('gemini-2.0-flash-001-latest')).toBe(
      'gemini-2.0-flash',
    );
    expect(normalizeModelName('gemini-3.1-pro-ultra')).toBe(
      'gemini-3.1-pro-ultra',
    );
    expect(normalizeModelName('gemini-2.0-flash-lite')).toBe(
      'gemini-2.0-flash-lite',
    );
  });
});

describe('pricing options', () => {
  const custom: PricingOptions = {
    models: {
      'Acme-Model': {
        inputPerMTok: '1',
        cachedInputPerMTok: '0.1',
        outputPerMTok: '2',
        tiers: [
          {
            aboveInputTokens: 1000,
            inputPerMTok: '3',
            cachedInputPerMTok: '0.3',
            outputPerMTok: '6',
          },
        ],
        source: 'https://acme.test/pricing',
        checkedOn: '2026-11-20',
      },
      'gemini-3-flash': {
        inputPerMTok: '0.40',
        cachedInputPerMTok: '0.04',
        outputPerMTok: '2.00',
      },
    },
    aliases: {
      'gemini-3.1-pro-ultra': 'gemini-3.1-pro',
      'acme-latest-and-greatest': 'acme-model',
    },
  };
  const configured = new ModelPricingService(custom);
  const usage = { inputTokens: 1000, outputTokens: 1000 };

  it('adds models and their tiers', () => {
    // 1000 × 1 + 1000 × 2 = 3000 µ$
    expect(configured.cost('acme-model', usage)).toBe('0.003000');
    // 1001 × 3 + 1000 × 6 = 9003 µ$
    expect(
      configured.cost('models/ACME-MODEL-001', { ...usage, inputTokens: 1001 }),
    ).toBe('0.009003');
    expect(configured.resolve('acme-model')?.model).toBe('Acme-Model');
  });

  it('overrides a built-in model as a whole, and leaves the built-in table alone', () => {
    // 1000 × 0.40 + 1000 × 2.00 = 2400 µ$ (built-in: 500 + 3000 = 3500 µ$)
    expect(configured.cost('gemini-3-flash-preview', usage)).toBe('0.002400');
    expect(pricing.cost('gemini-3-flash', usage)).toBe('0.003500');
  });

  it('adds aliases: a name that would not match becomes priced only when an alias says so', () => {
    // 1000 × 2.00 + 1000 × 12.00 = 14000 µ$
    expect(configured.cost('gemini-3.1-pro-ultra', usage)).toBe('0.014000');
    expect(configured.cost('acme-latest-and-greatest', usage)).toBe('0.003000');
    expect(pricing.has('gemini-3.1-pro-ultra')).toBe(false);
  });

  const refused: [string, unknown, string][] = [
    [
      'a price that is a number',
      {
        models: {
          m: { inputPerMTok: 0.1, cachedInputPerMTok: '0', outputPerMTok: '1' },
        },
      },
      "LoggingModule option pricing.models.m.inputPerMTok must be a non-negative decimal string (at most 6 integer and 9 fractional digits, e.g. '0.10'), in USD per 1M tokens",
    ],
    [
      'a negative price',
      {
        models: {
          m: {
            inputPerMTok: '1',
            cachedInputPerMTok: '-0.1',
            outputPerMTok: '1',
          },
        },
      },
      'LoggingModule option pricing.models.m.cachedInputPerMTok must be a non-negative decimal string',
    ],
    [
      'a missing price',
      { models: { m: { inputPerMTok: '1', cachedInputPerMTok: '0.1' } } },
      'LoggingModule option pricing.models.m.outputPerMTok must be a non-negative decimal string',
    ],
    [
      'a misspelled field',
      {
        models: {
          m: {
            inputPerMtok: '1',
            inputPerMTok: '1',
            cachedInputPerMTok: '0',
            outputPerMTok: '1',
          },
        },
      },
      'LoggingModule option pricing.models.m must be an object of only inputPerMTok, cachedInputPerMTok, outputPerMTok, tiers, source, checkedOn (unknown field "inputPerMtok")',
    ],
    [
      'a price that is not an object',
      { models: { m: '1.00' } },
      'LoggingModule option pricing.models.m must be an object {',
    ],
    [
      'tiers out of order',
      {
        models: {
          m: {
            inputPerMTok: '1',
            cachedInputPerMTok: '0',
            outputPerMTok: '1',
            tiers: [
              {
                aboveInputTokens: 5000,
                inputPerMTok: '2',
                cachedInputPerMTok: '0',
                outputPerMTok: '2',
              },
              {
                aboveInputTokens: 5000,
                inputPerMTok: '3',
                cachedInputPerMTok: '0',
                outputPerMTok: '3',
              },
            ],
          },
        },
      },
      'LoggingModule option pricing.models.m.tiers[1].aboveInputTokens must be an integer from 5001 to 2147483647',
    ],
    [
      'a tier price',
      {
        models: {
          m: {
            inputPerMTok: '1',
            cachedInputPerMTok: '0',
            outputPerMTok: '1',
            tiers: [
              {
                aboveInputTokens: 10,
                inputPerMTok: '2',
                cachedInputPerMTok: '0',
                outputPerMTok: 'x',
              },
            ],
          },
        },
      },
      'LoggingModule option pricing.models.m.tiers[0].outputPerMTok must be a non-negative decimal string',
    ],
    [
      'a bad date',
      {
        models: {
          m: {
            inputPerMTok: '1',
            cachedInputPerMTok: '0',
            outputPerMTok: '1',
            checkedOn: '22/11/2026',
          },
        },
      },
      'LoggingModule option pricing.models.m.checkedOn must be a date YYYY-MM-DD',
    ],
    [
      'a bad model name',
      {
        models: {
          'bad name': {
            inputPerMTok: '1',
            cachedInputPerMTok: '0',
            outputPerMTok: '1',
          },
        },
      },
      'LoggingModule option pricing.models.bad name must be named by a model name',
    ],
    [
      'a name given twice',
      {
        models: {
          m: { inputPerMTok: '1', cachedInputPerMTok: '0', outputPerMTok: '1' },
          M: { inputPerMTok: '1', cachedInputPerMTok: '0', outputPerMTok: '1' },
        },
      },
      'LoggingModule option pricing.models.M must be given once',
    ],
    [
      'an alias to nothing',
      { aliases: { 'my-model': 'gemini-9-flash' } },
      'LoggingModule option pricing.aliases.my-model must be the name of a model in the price table',
    ],
    [
      'an alias shadowing a model',
      { aliases: { 'gemini-3-flash': 'gemini-3.1-pro' } },
      'LoggingModule option pricing.aliases.gemini-3-flash must be a name that is not itself a priced model',
    ],
    [
      'an unknown option',
      { model: {} },
      'LoggingModule option pricing must be an object of only models, aliases (unknown field "model")',
    ],
    [
      'not an object',
      'cheap',
      'LoggingModule option pricing must be an object',
    ],
  ];

  it.each(refused)(
    'refuses %s at startup, naming the field',
    (_, options, message) => {
      expect(() => new ModelPricingService(options as PricingOptions)).toThrow(
        message,
      );
    },
  );
});

describe('usage of provider responses', () => {
  it('maps Gemini usageMetadata, thinking tokens as output', () => {
    expect(
      usageFromGemini({
        promptTokenCount: 1200,
        cachedContentTokenCount: 1000,
        candidatesTokenCount: 250,
        thoughtsTokenCount: 50,
      }),
    ).toEqual({
      inputTokens: 1200,
      cachedInputTokens: 1000,
      outputTokens: 300,
    });
    expect(usageFromGemini({ promptTokenCount: 10 })).toEqual({
      inputTokens: 10,
      cachedInputTokens: 0,
      outputTokens: 0,
    });
    expect(() => usageFromGemini(undefined as never)).toThrow(
      'usageMetadata must be the usage object of a response',
    );
  });

  it('maps OpenAI Chat Completions and Responses usage, reasoning already in the output', () => {
    expect(
      usageFromOpenAI({
        prompt_tokens: 2000,
        completion_tokens: 700,
        prompt_tokens_details: { cached_tokens: 1024 },
      }),
    ).toEqual({
      inputTokens: 2000,
      cachedInputTokens: 1024,
      outputTokens: 700,
    });
    expect(
      usageFromOpenAI({
        input_tokens: 300,
        output_tokens: 90,
        input_tokens_details: { cached_tokens: 0 },
      }),
    ).toEqual({ inputTokens: 300, cachedInputTokens: 0, outputTokens: 90 });
    expect(usageFromOpenAI({ prompt_tokens: 5 })).toEqual({
      inputTokens: 5,
      cachedInputTokens: 0,
      outputTokens: 0,
    });
  });
});

describe('error messages of failed calls', () => {
  it.each([
    ['key AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW rejected', 'AIzaSy'],
    ['Incorrect API key provided: sk-proj-abcDEF123456ghiJKL', 'sk-proj'],
    ['sent Authorization: Bearer ya29.a0AfH6SMBx-secret.token', 'ya29'],
    [
      'GET https://generativelanguage.googleapis.com/v1/models?key=abc123secret&alt=json',
      'abc123secret',
    ],
    ['POST /v1?api_key=abc123secret', 'abc123secret'],
    ['callback?token=abc123secret failed', 'abc123secret'],
    ['connect postgres://app:hunter2@db.internal:5432/x refused', 'hunter2'],
    ['{"api_key": "abc123secret"}', 'abc123secret'],
    ['x-goog-api-key: abc123secret', 'abc123secret'],
  ])('scrubs %j', (message, secret) => {
    const scrubbed = scrubSecrets(message);
    expect(scrubbed).not.toContain(secret);
    expect(scrubbed).toContain('[REDACTED]');
  });

  it('keeps what is not a secret', () => {
    expect(
      scrubSecrets('429 Resource exhausted: quota of 1000000 tokens'),
    ).toBe('429 Resource exhausted: quota of 1000000 tokens');
    expect(scrubSecrets('https://user@host/path')).toBe(
      'https://user@host/path',
    );
  });

  it('bounds the message after scrubbing', () => {
    const long = new Error(
      `${'x'.repeat(495)} AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW ${'y'.repeat(10_000)}`,
    );
    const described = describeError(long);
    expect(described.length).toBe(TRACK_ERROR_MESSAGE_MAX_LENGTH);
    expect(described).toMatch(/^Error: x+/);
    expect(described).not.toContain('AIza');
    expect(describeError('plain string')).toBe('plain string');
    expect(describeError({ toString: () => 'sk-abcdefghijklmnop' })).toBe(
      'thrown value: [object Object]',
    );
  });
});
