// Cost per day, stacked by model, drawn with uPlot (loaded before this module as the global
// `uPlot`, from the dashboard's own assets), with a legend of each model's total for the range and
// a y axis that can clip outlier days.
import {
  decimalOf,
  el,
  isoDay,
  micros,
  usdExact,
  usdRounded,
} from './dashboard-format.js';

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
const INK = '#1d2330';
const PANEL = '#ffffff';

let chart;
let observer;
/** What the chart shows now, so the scale can be switched without reloading. */
let shown;

/** The chart's height for the container's width: shorter on a phone. */
const heightFor = (width) => (width < 600 ? 220 : 300);

/**
 * Where to clip the y axis for `totals` (one per day): when some days stand above three times the
 * 75th percentile of the days with calls, the axis ends a quarter above the tallest of the others,
 * and the days above it are clipped. Returns that top, or null when no day stands out.
 */
export function clipTop(totals) {
  const positive = totals.filter((t) => t > 0).sort((a, b) => a - b);
  if (positive.length < 4) return null;
  const p75 = positive[Math.floor(0.75 * (positive.length - 1))];
  const kept = positive.filter((t) => t <= 3 * p75);
  if (kept.length === positive.length) return null;
  const top = kept.at(-1) * 1.25;
  return positive.at(-1) > top ? top : null;
}

/** A swatch, name and figure of the legend, the exact figure on hover. */
function legendItem(className, colour, name) {
  const swatch = el('span', 'swatch');
  if (colour) swatch.style.backgroundColor = colour;
  else swatch.hidden = true;
  const value = el('span', 'legend-value');
  const item = el(
    'li',
    className,
    swatch,
    el('span', 'legend-name', name),
    value,
  );
  return { item, value };
}

function setFigure(node, decimal) {
  node.textContent = usdRounded(decimal);
  node.title = `${usdExact(decimal)} (exact)`;
}

/**
 * Draws `daily` (rows of `{ day, model, costUsd }`) over `days` (every day of the range), one
 * stacked bar series per model, in `container`, and fills `legend` with each model's total for
 * the range (a hovered day's figures while the pointer is on one). `scale` is `'clip'` (outlier
 * days clipped, their total written above them) or `'full'`. Returns the number of series drawn.
 */
export function drawChart(container, legend, days, daily, models, scale) {
  chart?.destroy();
  observer?.disconnect();
  container.replaceChildren();
  shown = { container, legend, days, daily, models };

  const at = new Map(days.map((day, i) => [day, i]));
  const raw = models.map(() => days.map(() => 0));
  const exactCost = models.map(() => days.map(() => 0n));
  for (const row of daily) {
    const m = models.indexOf(row.model);
    const i = at.get(row.day);
    if (m < 0 || i === undefined) continue;
    raw[m][i] = Number(row.costUsd);
    exactCost[m][i] = micros(row.costUsd);
  }
  const modelTotal = exactCost.map((values) =>
    values.reduce((a, b) => a + b, 0n),
  );
  const dayTotal = days.map((_, i) =>
    exactCost.reduce((sum, values) => sum + values[i], 0n),
  );
  const rangeTotal = modelTotal.reduce((a, b) => a + b, 0n);

  // Stacked bars: each series is the running sum up to its model; the tallest is drawn first and
  // each lower one over it, so every model shows as its own band.
  const stacked = [];
  let sum = days.map(() => 0);
  for (const values of raw) {
    sum = sum.map((v, i) => v + values[i]);
    stacked.push(sum);
  }
  const totals = sum;
  const top = scale === 'full' ? null : clipTop(totals);
  const clipped =
    top === null ? [] : days.flatMap((_, i) => (totals[i] > top ? [i] : []));
  // Clipped days are drawn up to the axis' top; their bands above it are cut.
  const drawn =
    top === null ? stacked : stacked.map((s) => s.map((v) => Math.min(v, top)));

  const order = models.map((_, m) => models.length - 1 - m);
  const bars = uPlot.paths.bars({ size: [0.72, 56], gap: 1 });
  const width = Math.max(280, container.clientWidth);

  // The legend: the range's total, then each model's, the most expensive first.
  const totalItem = legendItem('legend-total', null, 'Range total');
  const modelItems = models.map((model, m) =>
    legendItem(null, PALETTE[m % PALETTE.length], model),
  );
  modelItems.forEach(({ item }, m) => {
    item.dataset.model = models[m];
  });
  const byCost = models
    .map((_, m) => m)
    .sort((a, b) =>
      modelTotal[b] > modelTotal[a]
        ? 1
        : modelTotal[b] < modelTotal[a]
          ? -1
          : 0,
    );
  legend.replaceChildren(
    totalItem.item,
    ...byCost.map((m) => modelItems[m].item),
  );
  const showLegend = (i) => {
    const day = i === null || i === undefined ? null : i;
    totalItem.item.querySelector('.legend-name').textContent =
      day === null ? 'Range total' : days[day];
    setFigure(
      totalItem.value,
      decimalOf(day === null ? rangeTotal : dayTotal[day]),
    );
    modelItems.forEach(({ value }, m) =>
      setFigure(
        value,
        decimalOf(day === null ? modelTotal[m] : exactCost[m][day]),
      ),
    );
    legend.dataset.day = day === null ? '' : days[day];
  };
  showLegend(null);

  chart = new uPlot(
    {
      width,
      height: heightFor(width),
      padding: [clipped.length ? 22 : 10, 12, 0, 0],
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      legend: { show: false },
      scales: {
        x: {
          time: true,
          range: (u, min, max) => [min - DAY / 2, max + DAY / 2],
        },
        y: {
          range: (u, min, max) => [
            0,
            top !== null ? top : max > 0 ? max * 1.08 : 1,
          ],
        },
      },
      axes: [
        {
          stroke: '#6b7385',
          grid: { show: false },
          ticks: { stroke: '#e3e6ec' },
          space: 96,
          // ISO days, as everywhere on the page, whatever the browser's locale.
          values: (u, splits) => {
            const labels = splits.map((v) => isoDay(new Date(v * 1e3)));
            container.dataset.xTicks = labels.join(',');
            return labels;
          },
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
        { label: 'Day' },
        ...order.map((m) => ({
          label: models[m],
          fill: PALETTE[m % PALETTE.length],
          stroke: PALETTE[m % PALETTE.length],
          width: 0,
          paths: bars,
          points: { show: false },
        })),
      ],
      hooks: {
        setCursor: [(u) => showLegend(u.cursor.idx)],
        setScale: [
          (u, key) => {
            if (key === 'y') container.dataset.yMax = String(u.scales.y.max);
          },
        ],
        draw: [(u) => markClipped(u, clipped, dayTotal)],
      },
    },
    [
      days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000),
      ...order.map((m) => drawn[m]),
    ],
    container,
  );
  container.dataset.series = String(chart.series.length - 1);
  container.dataset.days = String(chart.data[0].length);
  container.dataset.scale = scale === 'full' ? 'full' : 'clip';
  container.dataset.clipped = clipped.map((i) => days[i]).join(',');

  observer = new ResizeObserver(() => {
    const next = Math.max(280, container.clientWidth);
    if (next !== chart.width)
      chart.setSize({ width: next, height: heightFor(next) });
  });
  observer.observe(container);
  return chart.series.length - 1;
}

/**
 * Marks each clipped day: a break across the top of its bar, and its total (rounded) above it.
 */
function markClipped(u, clipped, dayTotal) {
  if (!clipped.length) return;
  const { ctx } = u;
  const ratio = uPlot.pxRatio;
  const top = u.bbox.top;
  const dayWidth =
    u.valToPos(u.data[0][0] + DAY, 'x', true) -
    u.valToPos(u.data[0][0], 'x', true);
  const half = Math.min(28 * ratio, dayWidth * 0.36);
  ctx.save();
  ctx.font = `600 ${11 * ratio}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  for (const i of clipped) {
    const x = u.valToPos(u.data[0][i], 'x', true);
    // A slanted white band across the bar: the bar goes on beyond the axis.
    const y = top + 9 * ratio;
    const band = 4 * ratio;
    ctx.fillStyle = PANEL;
    ctx.beginPath();
    ctx.moveTo(x - half - ratio, y + band);
    ctx.lineTo(x + half + ratio, y - band);
    ctx.lineTo(x + half + ratio, y);
    ctx.lineTo(x - half - ratio, y + 2 * band);
    ctx.closePath();
    ctx.fill();
    ctx.fillStyle = INK;
    ctx.fillText(usdRounded(decimalOf(dayTotal[i])), x, top - 4 * ratio);
  }
  ctx.restore();
}

/** Draws the chart again with another y axis (`'clip'` or `'full'`); nothing when none is shown. */
export function rescale(scale) {
  if (!shown) return;
  const { container, legend, days, daily, models } = shown;
  drawChart(container, legend, days, daily, models, scale);
}

/** Removes the chart and its legend, for an empty range. */
export function clearChart(container, legend) {
  chart?.destroy();
  observer?.disconnect();
  chart = undefined;
  shown = undefined;
  container.replaceChildren();
  legend.replaceChildren();
  container.dataset.series = '0';
  container.dataset.days = '0';
  container.dataset.clipped = '';
}
