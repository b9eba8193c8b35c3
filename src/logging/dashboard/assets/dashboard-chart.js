// Cost per day, stacked by model, drawn with uPlot (loaded before this module as the global
// `uPlot`, from the dashboard's own assets).
import { isoDay, usdExact, usdRounded } from './dashboard-format.js';

const PALETTE = [
  '#4263eb',
  '#f59f00',
  '#12b886',
  '#e64980',
  '#7950f2',
  '#15aabf',
  '#fa5252',
  '#82c91e',
];
const DAY = 86400;

let chart;
let observer;

/** The chart's height for the container's width: shorter on a phone. */
const heightFor = (width) => (width < 600 ? 220 : 300);

/**
 * Draws `daily` (rows of `{ day, model, costUsd }`) over `days` (every day of the range), one
 * stacked bar series per model, in `container`. Returns the number of series drawn.
 */
export function drawChart(container, days, daily, models) {
  chart?.destroy();
  observer?.disconnect();
  container.replaceChildren();

  const at = new Map(days.map((day, i) => [day, i]));
  const raw = models.map(() => days.map(() => 0));
  const exactCost = models.map(() => days.map(() => '0.000000'));
  for (const row of daily) {
    const m = models.indexOf(row.model);
    const i = at.get(row.day);
    if (m < 0 || i === undefined) continue;
    raw[m][i] = Number(row.costUsd);
    exactCost[m][i] = row.costUsd;
  }
  // Stacked bars: each series is the running sum up to its model; the tallest is drawn first and
  // each lower one over it, so every model shows as its own band.
  const stacked = [];
  let sum = days.map(() => 0);
  for (const values of raw) {
    sum = sum.map((v, i) => v + values[i]);
    stacked.push(sum);
  }
  const order = models.map((_, m) => models.length - 1 - m);
  const bars = uPlot.paths.bars({ size: [0.72, 56], gap: 1 });
  const width = Math.max(280, container.clientWidth);

  chart = new uPlot(
    {
      width,
      height: heightFor(width),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: {
          time: true,
          range: (u, min, max) => [min - DAY / 2, max + DAY / 2],
        },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        {
          stroke: '#6b7385',
          grid: { show: false },
          ticks: { stroke: '#e3e6ec' },
        },
        {
          stroke: '#6b7385',
          size: 64,
          grid: { stroke: '#eef0f4' },
          ticks: { show: false },
          values: (u, splits) => {
            const step = splits.length > 1 ? splits[1] - splits[0] : 1;
            const digits = Math.min(
              6,
              Math.max(2, Math.ceil(-Math.log10(step))),
            );
            return splits.map((v) => `$${v.toFixed(digits)}`);
          },
        },
      ],
      series: [
        {
          label: 'Day',
          value: (u, v) => (v == null ? '—' : isoDay(new Date(v * 1e3))),
        },
        ...order.map((m) => ({
          label: models[m],
          fill: PALETTE[m % PALETTE.length],
          stroke: PALETTE[m % PALETTE.length],
          width: 0,
          paths: bars,
          points: { show: false },
          value: (u, v, s, i) =>
            i == null
              ? '—'
              : `${usdRounded(raw[m][i])} (${usdExact(exactCost[m][i])})`,
        })),
      ],
    },
    [
      days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000),
      ...order.map((m) => stacked[m]),
    ],
    container,
  );
  container.dataset.series = String(chart.series.length - 1);
  container.dataset.days = String(chart.data[0].length);

  observer = new ResizeObserver(() => {
    const next = Math.max(280, container.clientWidth);
    if (next !== chart.width)
      chart.setSize({ width: next, height: heightFor(next) });
  });
  observer.observe(container);
  return chart.series.length - 1;
}

/** Removes the chart, for an empty range. */
export function clearChart(container) {
  chart?.destroy();
  observer?.disconnect();
  chart = undefined;
  container.replaceChildren();
  container.dataset.series = '0';
  container.dataset.days = '0';
}
