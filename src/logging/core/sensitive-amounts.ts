/**
 * Amounts as identifiers and free text write them: with a currency (any ISO 4217 code, a symbol,
 * a currency word) or a unit (lakh, crore, million) on either side, glued or not, with paise, in
 * lakh shorthand (`1.5L`, `2cr`), in scientific notation, grouped (`1,50,000`, `150.000`,
 * `1_50_000`), in words (`one lakh fifty thousand`), or glued to a money word (`amt150000`).
 *
 * Each pattern runs on the canonical lowercase text, except the ISO codes that are English words or
 * common abbreviations (`ALL`, `TOP`, `TRY`, `PHP`, `AMD`), which count only in capitals.
 *
 * @module
 */

/** ISO 4217 currency codes (active, and the funds and metals codes hosts meet). */
const ISO_4217 =
  `aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob bov brl bsd
  btn bwp byn bzd cad cdf che chf chw clf clp cny cop cou crc cuc cup cve czk djf dkk dop dzd egp
  ern etb eur fjd fkp gbp gel ghs gip gmd gnf gtq gyd hkd hnl hrk htg huf idr ils inr iqd irr isk
  jmd jod jpy kes kgs khr kmf kpw krw kwd kyd kzt lak lbp lkr lrd lsl lyd mad mdl mga mkd mmk mnt
  mop mru mur mvr mwk mxn mxv myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar
  ron rsd rub rwf sar sbd scr sdg sek sgd shp sle sll sos srd ssp stn svc syp szl thb tjs tmt tnd
  top try ttd twd tzs uah ugx usd usn uyi uyu uyw uzs ved ves vnd vuv wst xaf xag xau xcd xcg xdr
  xof xpd xpf xpt xsu yer zar zmw zwg zwl`
    .split(/\s+/)
    .filter(Boolean);

/** Codes that are also words or abbreviations in identifiers: taken for currencies in capitals. */
const WORD_LIKE = new Set(
  `all amd ang aud bam bob cad cup cve dop ern gel gip jod lak mad mkd mop mur nad nio pen php
  ron sar sek sos srd std svc top try ves xaf xof xcd xdr xpf ttd tnd szl tjs bov che chw cou usn`
    .split(/\s+/)
    .filter(Boolean),
);

/** Currency words any case: the codes and names an Indian host writes most. */
const MONEY_WORDS =
  'inr|usd|eur|gbp|rupees?|rupaye|rupaiya|dollars?|euros?|paise|paisa';

/** Currency symbols (and `rs`, `rs.`, `₨`). */
const SYMBOLS = '[₹$€£¥₩₽₺₫₱₪฿₦₴₸৳¢₨]';

/** Scales written after a number: lakh, crore, million... */
const UNITS =
  'lakhs?|lacs?|lakh|crores?|crs?|mn|bn|millions?|billions?|thousands?|trillions?';

/** Words a host glues to an amount: `amt150000`, `netamount_75000`, `salary45000`. */
const AMOUNT_WORDS =
  'amt|amount|bal|balance|total|salary|ctc|fees?|price|cost|loan|emi|dues|paid|payout|revenue|sales|profit|income|networth|turnover|tds|outstanding|owed|owes|debt|rent|refund';

const COUNT_WORDS =
  'one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|ek|do|teen|chaar|char|paanch|panch|chhe|saat|aath|nau|das|dus|bees|pachas|pachaas|sau';
const SCALE_WORDS =
  'thousands?|lakhs?|lacs?|crores?|millions?|billions?|hundred|hazaar|hazar';

const LOWERCASE_CODES = new Set(ISO_4217.filter((c) => !WORD_LIKE.has(c)));
const UPPERCASE_CODES = new Set(ISO_4217.map((c) => c.toUpperCase()));

/** A separator between a number and its currency or unit: at most one, or a space. */
const S = String.raw`[\s._:/,'\u2010-\u2015\u2212-]?`;
/** The number after a currency, to its end: not glued to letters after (`gbp6Br` is random). */
const NUMBER = String.raw`\d[\d.,]*(?:k|l|lakhs?|lacs?|crores?|crs?|mn|bn|m)?(?![a-z0-9])`;

/** One amount pattern: global, on the lowercase text or on the text before lowercasing. */
export interface AmountPattern {
  readonly pattern: RegExp;
  /** A cheap test the text must pass for the pattern to be run at all. */
  readonly hint: RegExp;
  /** Run on the text before lowercasing (currency codes in capitals). */
  readonly cased: boolean;
  /** Only the number's shape told (paise, grouping): a unit in free text may excuse it. */
  readonly bare: boolean;
  /** Needs a digit: skipped on text without one. */
  readonly digits: boolean;
  /** Whether a match is an amount (the code it captured is a currency's). */
  readonly accept: (match: RegExpExecArray) => boolean;
}

const amount = (
  hint: RegExp,
  source: string,
  options: Partial<Omit<AmountPattern, 'pattern' | 'hint'>> = {},
): AmountPattern => ({
  pattern: new RegExp(source, 'g'),
  hint,
  accept: options.accept ?? (() => true),
  cased: options.cased ?? false,
  bare: options.bare ?? false,
  digits: options.digits ?? true,
});

/** The amount patterns, cheapest and most telling first. */
export const AMOUNT_PATTERNS: readonly AmountPattern[] = [
  // A symbol before or after digits: $500, ₹ 1,25,000, 500€; rs.2500, rs 2500, 2500rs.
  amount(
    /[₹$€£¥₩₽₺₫₱₪฿₦₴₸৳¢₨]|rs/,
    String.raw`${SYMBOLS}\s?\d|\d\s?${SYMBOLS}|(?<![a-z])rs\.?${S}${NUMBER}|\drs(?![a-z0-9])`,
  ),
  // A currency word glued to digits, letters before allowed: feeINR15000, 15000inr, rupees500.
  amount(
    /inr|usd|eur|gbp|rupe|rupa|dollar|euro|pais/,
    String.raw`(?:${MONEY_WORDS})${S}${NUMBER}|\d${S}(?:${MONEY_WORDS})(?![a-z0-9])`,
  ),
  // Any other ISO code, set apart from letters, with three digits or more: fee_aed_5000, 5000chf.
  amount(
    /(?<![a-z0-9])[a-z]{3}[\s._:/,'\u2010-\u2015\u2212-]?\d{3}|\d{3}[\s._:/,'\u2010-\u2015\u2212-]?[a-z]{3}(?![a-z0-9])/,
    String.raw`(?<![a-z0-9])([a-z]{3})${S}(?!(?:19|20)\d\d(?!\d))\d{3}[\d.,]*(?![a-z0-9])|\d{3}${S}([a-z]{3})(?![a-z0-9])`,
    { accept: (m) => LOWERCASE_CODES.has(m[1] ?? m[2]) },
  ),
  // Any ISO code in capitals, glued after lowercase letters too: feeAED5000, 5000CHF, TOP100.
  amount(
    /[A-Z]{3}[\s._:/,'\u2010-\u2015\u2212-]?\d{3}|\d{3}[\s._:/,'\u2010-\u2015\u2212-]?[A-Z]{3}/,
    String.raw`(?<![A-Z0-9])([A-Z]{3})${S}\d{3}[\d.,]*(?![A-Za-z0-9])|\d{3}${S}([A-Z]{3})(?![A-Za-z0-9])`,
    { cased: true, accept: (m) => UPPERCASE_CODES.has(m[1] ?? m[2]) },
  ),
  // A number with its scale: 4.2crore, 12_lakh, 2cr, 1.5mn; lakh shorthand 1.5l, 25l.
  amount(
    /\d[\s._:/,'\u2010-\u2015\u2212-]?(?:la|cr|mn|bn|mi|bi|th|tr|l)/,
    String.raw`\d(?:[.,]\d+)?${S}(?:${UNITS})(?![a-z0-9])|\d[.,]\d+l(?![a-z0-9])|(?<![a-z0-9.])\d{1,3}l(?![a-z0-9])|(?<=[g-z])\d{2,3}l(?![a-z0-9])`,
  ),
  // Paise: three digits or more, then two decimals: 150000.00, 2500,50.
  amount(/\d[.,]\d\d/, String.raw`(?<![\d.,])\d{3,}[.,]\d{2}(?!\d)(?![.,]\d)`, {
    bare: true,
  }),
  // Indian grouping: 1,50,000 / 1_50_000 / 1'50'000 / 1 50 000.
  amount(
    /\d[,_' \u00a0\u202f]\d\d/,
    String.raw`(?<![\d.,_':])[1-9]\d?([,_' \u00a0\u202f])\d{2}(?:\1\d{2})*\1\d{3}(?!\d)(?!\1\d)`,
    { bare: true },
  ),
  // Western grouping, five digits or more: 150,000 / 1_250_000; with dots, as Europe writes them,
  // a first group of three or two groups (150.000, 1.250.000; not 39.137 or 2.100).
  amount(
    /\d[,_' \u00a0\u202f.]\d{3}/,
    String.raw`(?<![\d.,_':v])(?:[1-9]\d{1,2}([,_' \u00a0\u202f])\d{3}(?:\1\d{3})*|[1-9]([,_' \u00a0\u202f])\d{3}(?:\2\d{3})+|[1-9]\d{2}\.\d{3}(?:\.\d{3})*|[1-9]\d{0,2}\.\d{3}(?:\.\d{3})+)(?:[.,]\d{2}(?![\d.,]))?(?!\d)(?![.,_']\d)`,
    { bare: true },
  ),
  // Scientific notation of 1,000 or more: 1.5e5, 1.5e+05, 15e4.
  amount(
    /\de/,
    String.raw`\d[.,]\d+e\+?0?[3-9](?![a-z0-9])|\d[.,]\d+e\+?[1-9]\d(?![a-z0-9])|(?<![a-f0-9.])\d+e\+?0?[3-9](?![a-z0-9])`,
  ),
  // A money word glued to an amount (not a year, not a zero-padded sequence number).
  amount(
    /amt|amount|bal|total|salary|ctc|fee|price|cost|loan|emi|dues|paid|payout|revenue|sales|profit|income|networth|turnover|tds|outstanding|owe|debt|rent|refund/,
    String.raw`(?:${AMOUNT_WORDS})${S}(?!(?:19|20)\d\d(?!\d))[1-9]\d{3,}`,
  ),
  // Number words with a scale: one lakh fifty thousand, fifteen_thousand, do crore.
  amount(
    /thousand|lakh|lac|crore|million|billion|hundred|hazaa?r/,
    String.raw`(?<![a-z])(?:${COUNT_WORDS})[\s._:-]{0,3}(?:${SCALE_WORDS})`,
    { digits: false },
  ),
];

/** Whether `text` may hold a number in words: one of the scale words. */
export const SCALE_HINT =
  /thousand|lakh|lac|crore|million|billion|hundred|hazaa?r/;
