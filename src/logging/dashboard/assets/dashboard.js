// The dashboard page: reads the JSON endpoints beside it and renders every stored value as text.
import { clearChart, drawChart } from './dashboard-chart.js';
import {
  count,
  countShort,
  daysBetween,
  el,
  exact,
  isoDay,
  message,
  metadataList,
  nextDay,
  shortId,
  time,
  usd,
  usdExact,
} from './dashboard-format.js';

const API = new URL('../api/', import.meta.url);
const $ = (id) => document.getElementById(id);

const state = {
  firmId: '',
  from: '',
  to: '',
  filters: {},
  next: null,
  shown: 0,
};
/** The latest load of each section: an older answer arriving late is dropped. */
const latest = new Map();

/** GET an endpoint with query parameters; JSON back, or an Error naming the status. */
async function api(path, params) {
  const response = await fetch(apiUrl(path, params), {
    headers: { accept: 'application/json' },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = Array.isArray(body.message)
      ? body.message.join('; ')
      : body.message;
    throw new Error(`${response.status}: ${message ?? response.statusText}`);
  }
  return body;
}

function apiUrl(path, params) {
  const url = new URL(path, API);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '')
      url.searchParams.set(key, value);
  }
  return url;
}

const range = () => ({
  firmId: state.firmId,
  from: state.from,
  to: nextDay(state.to),
});

function showError(error) {
  $('error').textContent =
    error instanceof Error ? error.message : String(error);
  $('error').hidden = false;
}

function busy(section, on, message) {
  section.setAttribute('aria-busy', on ? 'true' : 'false');
  const note = section.querySelector(':scope > .state');
  if (note) note.textContent = message ?? '';
}

/** Runs `load` for `section`, showing its loading state; renders only the section's latest load. */
async function guarded(section, load) {
  const mine = (latest.get(section.id) ?? 0) + 1;
  latest.set(section.id, mine);
  busy(section, true, 'Loading…');
  try {
    const render = await load();
    if (latest.get(section.id) === mine) render();
  } catch (error) {
    if (latest.get(section.id) !== mine) return;
    busy(section, false, 'Could not load this part.');
    showError(error);
  }
}

function loadUsage() {
  return guarded($('chart-panel'), async () => {
    const { totals, daily } = await api('usage', range());
    return () => {
      const cards = $('totals');
      const put = (name, node) =>
        cards.querySelector(`[data-total="${name}"]`).replaceChildren(node);
      put('costUsd', usd(totals.costUsd));
      put('calls', exact(count(totals.calls), String(totals.calls)));
      put('failures', exact(count(totals.failures), String(totals.failures)));
      put('inputTokens', countShort(totals.inputTokens));
      put('outputTokens', countShort(totals.outputTokens));
      cards.setAttribute('aria-busy', 'false');

      const models = [...new Set(daily.map((row) => row.model))].sort();
      const panel = $('chart-panel');
      if (!models.length) {
        clearChart($('chart'));
        busy(panel, false, 'No LLM calls in this range.');
        return;
      }
      busy(panel, false);
      drawChart($('chart'), daysBetween(state.from, state.to), daily, models);
    };
  });
}

/** Loads the range's ten calls of one listing into its table, or the panel's empty text. */
function loadCalls(name, emptyText, cells) {
  const panel = $(`${name}-panel`);
  return guarded(panel, async () => {
    const calls = await api(name, { ...range(), limit: 10 });
    return () => {
      $(name).tBodies[0].replaceChildren(
        ...calls.map((call) =>
          el(
            'tr',
            null,
            el('td', 'nowrap', time(call.createdAt)),
            el('td', null, el('span', 'tag', call.model)),
            el('td', null, call.taskType),
            ...cells(call),
          ),
        ),
      );
      busy(panel, false, calls.length ? '' : emptyText);
    };
  });
}

function loadExpensive() {
  return loadCalls('expensive', 'No LLM calls in this range.', (call) => [
    el('td', 'num', `${count(call.inputTokens)} / ${count(call.outputTokens)}`),
    el(
      'td',
      'num mono',
      exact(usdExact(call.costUsd), `${usdExact(call.costUsd)} (exact)`),
    ),
  ]);
}

function loadFailures() {
  return loadCalls('failures', 'No failed calls in this range.', (call) => [
    el('td', null, message(call.errorMessage)),
  ]);
}

function trailRow(entry) {
  const row = el(
    'tr',
    null,
    el('td', 'nowrap mono', time(entry.createdAt)),
    el('td', null, el('span', 'tag', entry.action)),
    el('td', null, shortId(entry.userId)),
    el(
      'td',
      null,
      el('span', null, `${entry.entityType} `),
      shortId(entry.entityId),
    ),
    el('td', 'mono', entry.ipAddress ?? '—'),
    el('td', null, metadataList(entry.metadata)),
  );
  row.dataset.id = entry.id;
  return row;
}

const trailParams = () => ({ ...range(), ...state.filters });

function loadTrail(append) {
  const panel = $('trail-panel');
  return guarded(panel, async () => {
    const page = await api('trail', {
      ...trailParams(),
      after: append ? state.next : undefined,
    });
    return () => {
      const body = $('trail').tBodies[0];
      const rows = page.items.map(trailRow);
      if (append) body.append(...rows);
      else body.replaceChildren(...rows);
      state.next = page.next;
      state.shown = body.rows.length;
      $('trail-more').hidden = !page.next;
      $('trail-count').textContent = state.shown
        ? `(${state.shown}${page.next ? '+' : ''} entries)`
        : '';
      busy(panel, false, state.shown ? '' : 'No audit entries match.');
    };
  });
}

function refreshLinks() {
  $('usage-csv').href = apiUrl('usage.csv', range()).href;
  $('trail-csv').href = apiUrl('trail.csv', trailParams()).href;
}

function remember() {
  const url = new URL(location.href);
  url.search = new URLSearchParams({
    firmId: state.firmId,
    from: state.from,
    to: state.to,
  }).toString();
  history.replaceState(null, '', url);
}

function show() {
  $('error').hidden = true;
  remember();
  refreshLinks();
  return Promise.all([
    loadUsage(),
    loadExpensive(),
    loadFailures(),
    loadTrail(false),
  ]);
}

function readScope() {
  state.firmId = $('firm').value || state.firmId;
  state.from = $('from').value;
  state.to = $('to').value;
}

function readFilters() {
  const fields = {
    action: 'f-action',
    userId: 'f-user',
    entityType: 'f-entity-type',
    entityId: 'f-entity-id',
  };
  state.filters = {};
  for (const [name, id] of Object.entries(fields)) {
    const value = $(id).value.trim();
    if (value) state.filters[name] = value;
  }
}

async function start() {
  const params = new URLSearchParams(location.search);
  const today = isoDay(new Date());
  const monthAgo = isoDay(new Date(Date.now() - 29 * 86400e3));
  $('from').value = params.get('from') ?? monthAgo;
  $('to').value = params.get('to') ?? today;

  const viewer = await api('viewer', {});
  if (viewer.scope === 'firm') {
    $('firm-field').hidden = true;
    $('firm-fixed').hidden = false;
    $('firm-fixed').textContent = `Firm ${viewer.firmId}`;
    state.firmId = viewer.firmId;
  } else {
    const select = $('firm');
    select.replaceChildren(
      ...viewer.firms.map((firm) => {
        const option = el('option', null, firm.name || firm.id);
        option.value = firm.id;
        return option;
      }),
    );
    const wanted = params.get('firmId');
    if (wanted && viewer.firms.some((firm) => firm.id === wanted))
      select.value = wanted;
    if (!viewer.firms.length) {
      showError('No firms to show yet.');
      return;
    }
  }
  readScope();

  $('scope').addEventListener('submit', (event) => {
    event.preventDefault();
    readScope();
    void show();
  });
  $('firm').addEventListener('change', () => $('scope').requestSubmit());
  $('trail-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    readFilters();
    refreshLinks();
    void loadTrail(false);
  });
  $('trail-filters').addEventListener('reset', () => {
    state.filters = {};
    refreshLinks();
    void loadTrail(false);
  });
  $('trail-more').addEventListener('click', () => void loadTrail(true));
  await show();
  document.body.dataset.ready = 'true';
}

start().catch(showError);
