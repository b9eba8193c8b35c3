// Copies the dashboard's page and the chart library (uPlot, MIT) into dist/, next to the compiled
// module, so the published package serves them with no CDN and no runtime dependency.
import { cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const target = join(root, 'dist/src/logging/dashboard/assets');
mkdirSync(target, { recursive: true });
cpSync(join(root, 'src/logging/dashboard/assets'), target, { recursive: true });

const uplot = dirname(
  createRequire(import.meta.url).resolve('uplot/package.json'),
);
for (const file of ['dist/uPlot.iife.min.js', 'dist/uPlot.min.css']) {
  cpSync(join(uplot, file), join(target, file.slice('dist/'.length)));
}
cpSync(join(uplot, 'LICENSE'), join(target, 'uPlot.LICENSE'));
