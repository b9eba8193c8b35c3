import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** A file the dashboard serves, held in memory from startup. */
export interface DashboardAsset {
  body: Buffer;
  type: string;
}

/** The page's own files, beside this module in `assets/`. */
const OWN = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard-chart.js': 'text/javascript; charset=utf-8',
  'dashboard-format.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
} as const;

/**
 * The chart library's files: copied from the `uplot` package into `assets/` by the build, so the
 * published package holds them; read from the installed package when running from source.
 */
const VENDOR = {
  'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
  'uPlot.min.css': 'text/css; charset=utf-8',
} as const;

function read(name: string, vendor: boolean): Buffer {
  const own = join(import.meta.dirname, 'assets', name);
  try {
    return readFileSync(own);
  } catch (error) {
    if (!vendor) throw error;
    return readFileSync(
      createRequire(import.meta.url).resolve(`uplot/dist/${name}`),
    );
  }
}

/** The page's placeholder for the host's `clientAuth` module, filled in at startup. */
const CLIENT_AUTH_META = '<meta name="logging-dashboard-auth" content="" />';

const escapeAttribute = (text: string): string =>
  text.replace(/[&"'<>]/g, (c) => `&#${c.codePointAt(0)};`);

/**
 * Every file the dashboard serves, by name; read once, at startup, so a missing one fails then.
 * The page names the host's `clientAuth` module, if any.
 */
export function loadDashboardAssets(
  clientAuthModule?: string,
): Map<string, DashboardAsset> {
  const assets = new Map<string, DashboardAsset>();
  for (const [name, type] of Object.entries(OWN)) {
    assets.set(name, { body: read(name, false), type });
  }
  const page = assets.get('index.html')!;
  const html = page.body.toString('utf8');
  if (!html.includes(CLIENT_AUTH_META)) {
    throw new Error(`index.html lacks ${CLIENT_AUTH_META}`);
  }
  page.body = Buffer.from(
    html.replace(
      CLIENT_AUTH_META,
      CLIENT_AUTH_META.replace(
        'content=""',
        `content="${escapeAttribute(clientAuthModule ?? '')}"`,
      ),
    ),
  );
  for (const [name, type] of Object.entries(VENDOR)) {
    assets.set(name, { body: read(name, true), type });
  }
  return assets;
}

/**
 * The response headers of every dashboard response: a strict Content-Security-Policy (scripts,
 * styles, data only from the dashboard's own origin; no inline script or style, no frames, no
 * plugins), no MIME sniffing, no referrer.
 */
export const DASHBOARD_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};
