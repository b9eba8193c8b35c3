// Formatting and safe DOM building for the dashboard. Every stored value reaches the page through
// textContent (el() below), never through innerHTML.

/**
 * An element with a class and children; strings become text nodes, so markup in stored values
 * stays text.
 */
export function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(
      typeof child === 'string' ? document.createTextNode(child) : child,
    );
  }
  return node;
}

/** A span showing `shown`, with the exact figure on hover. */
export function exact(shown, full, className) {
  const node = el('span', className, shown);
  node.title = full;
  return node;
}

const USD_2 = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const USD_4 = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 4,
  maximumFractionDigits: 4,
});

/** `'1234.567891'` (exact, from the API) to `'$1,234.567891'`: thousands grouped, digits kept. */
export function usdExact(decimal) {
  const [whole, fraction = ''] = String(decimal).split('.');
  const grouped = BigInt(whole).toLocaleString('en-US');
  return `$${grouped}.${fraction.padEnd(6, '0')}`;
}

/** A rounded USD figure for display: cents from one cent up, four decimals below. */
export function usdRounded(decimal) {
  const value = Number(decimal);
  return (Math.abs(value) >= 0.01 || value === 0 ? USD_2 : USD_4).format(value);
}

/** A USD amount rounded for display, the exact six-decimal figure on hover. */
export function usd(decimal) {
  return exact(usdRounded(decimal), `${usdExact(decimal)} (exact)`, 'usd');
}

/** An exact integer (a decimal string or a number) with thousands grouped. */
export function count(value) {
  return BigInt(value).toLocaleString('en-US');
}

/** A short integer: 1.2M, 35.4k; the exact count on hover. */
export function countShort(value) {
  const n = Number(value);
  const shown =
    n >= 1e9
      ? `${(n / 1e9).toFixed(2)}B`
      : n >= 1e6
        ? `${(n / 1e6).toFixed(2)}M`
        : n >= 1e4
          ? `${(n / 1e3).toFixed(1)}k`
          : count(value);
  return exact(shown, count(value));
}

/** `'2026-03-01T10:22:33.123Z'` to `'2026-03-01 10:22:33'` (UTC). */
export function time(iso) {
  return iso ? String(iso).replace('T', ' ').slice(0, 19) : '';
}

/** A UUID shown by its first 8 characters, in full on hover. */
export function shortId(id) {
  if (!id) return el('span', 'muted', '—');
  return exact(String(id).slice(0, 8), String(id), 'id');
}

/** An id shown by the host's name for it (the full id on hover), else as {@link shortId}. */
export function named(id, name) {
  if (!id || !name) return shortId(id);
  return exact(name, String(id), 'name');
}

/** A decimal string (`'4.216843'`) as a count of millionths, exactly. */
export function micros(decimal) {
  const text = String(decimal);
  const negative = text.startsWith('-');
  const [whole, fraction = ''] = text.replace(/^[-+]/, '').split('.');
  const value =
    BigInt(whole || '0') * 1000000n +
    BigInt(fraction.padEnd(6, '0').slice(0, 6));
  return negative ? -value : value;
}

/** Millionths as the six-decimal string the API uses. */
export function decimalOf(millionths) {
  const negative = millionths < 0n;
  const digits = (negative ? -millionths : millionths)
    .toString()
    .padStart(7, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -6)}.${digits.slice(-6)}`;
}

/** `'YYYY-MM-DD'` naming a real day (no 2026-02-30). */
export function isIsoDay(text) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && isoDay(date) === text;
}

/** `'YYYY-MM-DD'` of a Date, in UTC. */
export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** The day after `'YYYY-MM-DD'`. */
export function nextDay(day) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return isoDay(date);
}

/** Every day from `from` to `to`, both included. */
export function daysBetween(from, to) {
  const days = [];
  for (let day = from; day <= to && days.length < 3700; day = nextDay(day))
    days.push(day);
  return days;
}

/**
 * An error message as stored, its line breaks kept, clamped to four lines; {@link expandable}
 * offers the rest.
 */
export function message(text) {
  if (!text) return el('span', 'muted', '—');
  return el('div', 'message', text);
}

/**
 * Gives each clamped message under `root` that holds more than it shows a "Show all" button;
 * call once the rows are in the page (it measures them).
 */
export function expandable(root) {
  for (const node of root.querySelectorAll('.message')) {
    if (node.nextElementSibling?.classList.contains('more-text')) continue;
    if (node.scrollHeight <= node.clientHeight + 1) continue;
    const toggle = el('button', 'more-text', 'Show all');
    toggle.type = 'button';
    toggle.setAttribute('aria-expanded', 'false');
    toggle.addEventListener('click', () => {
      const open = node.classList.toggle('open');
      toggle.textContent = open ? 'Show less' : 'Show all';
      toggle.setAttribute('aria-expanded', String(open));
    });
    node.after(toggle);
  }
}

/** Metadata as a list of `key: value`, each part text. */
export function metadataList(metadata) {
  if (
    !metadata ||
    typeof metadata !== 'object' ||
    !Object.keys(metadata).length
  ) {
    return el('span', 'muted', '—');
  }
  return el(
    'ul',
    'meta',
    ...Object.entries(metadata).map(([key, value]) =>
      el(
        'li',
        null,
        el('span', 'key', `${key}: `),
        typeof value === 'string' ? value : JSON.stringify(value),
      ),
    ),
  );
}
