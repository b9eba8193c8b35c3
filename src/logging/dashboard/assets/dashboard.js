// The dashboard page: reads the JSON endpoints beside it and renders every stored value as text.
import { clearChart, drawChart, rescale } from './dashboard-chart.js';
import {
  count,
  countShort,
  daysBetween,
  el,
  exact,
  expandable,
  isIsoDay,
  isoDay,
  message,
  metadataList,
  named,
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
  scale: 'clip',
  filters: {},
  next: null,
  shown: 0,
};
/** The latest load of each section: an older answer arriving late is dropped. */
const latest = new Map();

/**
 * The headers of the host's `clientAuth` module (named by the page's meta tag), asked before each
 * request; none without one, the browser then sends its cookies or HTTP authentication itself.
 */
let authHeaders = async () => ({});

async function loadClientAuth() {
  const src = document
    .querySelector('meta[name="logging-dashboard-auth"]')
    ?.getAttribute('content');
  if (!src) return;
  const module = await import(new URL(src, location.href).href);
  if (typeof module.requestHeaders !== 'function') {
    throw new Error(`${src} exports no requestHeaders() function`);
  }
  authHeaders = async () => ({ ...(await module.requestHeaders()) });
}

/** GET an endpoint with the host's headers; the response, or an Error naming the status. */
async function request(path, params, accept) {
  const response = await fetch(apiUrl(path, params), {
    headers: { ...(await authHeaders()), accept },
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const text = Array.isArray(body.message)
      ? body.message.join('\n')
      : body.message;
    throw new Error(`${response.status}: ${text ?? response.statusText}`);
  }
  return response;
}

/** GET a JSON endpoint with query parameters. */
async function api(path, params) {
  return (await request(path, params, 'application/json')).json();
}

function apiUrl(path, params) {
  const url = new URL(path, API);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '')
      url.searchParams.set(key, value);
  }
  return url;
}

/**
 * Downloads a CSV export through the same request as the data (so the host's headers go with
 * it, not only its cookies), handed to the browser as a file.
 */
async function download(button, path, params, filename) {
  if (button.disabled) return;
  const label = button.textContent;
  button.disabled = true;
  button.textContent = 'Exporting…';
  try {
    const blob = await (await request(path, params, 'text/csv')).blob();
    const link = el('a', null);
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
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
        clearChart($('chart'), $('legend'));
        busy(panel, false, 'No LLM calls in this range.');
        return;
      }
      busy(panel, false);
      drawChart(
        $('chart'),
        $('legend'),
        daysBetween(state.from, state.to),
        daily,
        models,
        state.scale,
      );
    };
  });
}

/** Loads the range's ten calls of one listing into its table, or the panel's empty text. */
function loadCalls(name, emptyText, cells) {
  const panel = $(`${name}-panel`);
  return guarded(panel, async () => {
    const calls = await api(name, { ...range(), limit: 10 });
    return () => {
      const body = $(name).tBodies[0];
      body.replaceChildren(
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
      expandable(body);
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

function trailRow(entry, users) {
  const row = el(
    'tr',
    null,
    el('td', 'nowrap mono', time(entry.createdAt)),
    el('td', null, el('span', 'tag', entry.action)),
    el('td', 'user', named(entry.userId, users[entry.userId])),
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
      const users = page.names?.users ?? {};
      const rows = page.items.map((entry) => trailRow(entry, users));
      if (append) body.append(...rows);
      else body.replaceChildren(...rows);
      state.next = page.next;
      state.shown = body.rows.length;
      $('trail-more').hidden = !page.next;
      $('trail-count').textContent = state.shown
        ? `(${state.shown}${page.next ? '+' : ''} ${state.shown === 1 && !page.next ? 'entry' : 'entries'})`
        : '';
      busy(panel, false, state.shown ? '' : 'No audit entries match.');
    };
  });
}

function remember() {
  const url = new URL(location.href);
  const params = {
    firmId: state.firmId,
    from: state.from,
    to: state.to,
  };
  if (state.scale !== 'clip') params.scale = state.scale;
  url.search = new URLSearchParams(params).toString();
  history.replaceState(null, '', url);
}

function show() {
  $('error').hidden = true;
  remember();
  return Promise.all([
    loadUsage(),
    loadExpensive(),
    loadFailures(),
    loadTrail(false),
  ]);
}

/** Reads the range; false (the field told why) when a date is not a real `YYYY-MM-DD` day. */
function readScope() {
  const from = $('from');
  const to = $('to');
  for (const field of [from, to]) {
    field.setCustomValidity(
      isIsoDay(field.value.trim())
        ? ''
        : 'A day as YYYY-MM-DD, e.g. 2026-03-01',
    );
  }
  if (from.validity.valid && to.validity.valid && to.value < from.value) {
    to.setCustomValidity('On or after the first day');
  }
  for (const field of [from, to]) {
    if (!field.checkValidity()) {
      field.reportValidity();
      return false;
    }
  }
  state.firmId = $('firm').value || state.firmId;
  state.from = from.value.trim();
  state.to = to.value.trim();
  return true;
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

/** The calendar buttons: the browser's own date picker, its answer written back as ISO. */
function wireCalendars() {
  for (const button of document.querySelectorAll('button.calendar')) {
    const text = $(button.dataset.for);
    const picker = button.parentElement.querySelector('input.picker');
    button.addEventListener('click', () => {
      picker.value = isIsoDay(text.value.trim()) ? text.value.trim() : '';
      try {
        picker.showPicker();
      } catch {
        text.focus();
      }
    });
    picker.addEventListener('change', () => {
      // A date input's value is `YYYY-MM-DD` whatever the locale it shows in its popup.
      if (picker.value) text.value = picker.value;
      text.setCustomValidity('');
    });
  }
  for (const id of ['from', 'to']) {
    $(id).addEventListener('input', () => $(id).setCustomValidity(''));
  }
}

function wireScale() {
  const buttons = document.querySelectorAll('[data-scale]');
  const mark = () => {
    for (const button of buttons) {
      button.setAttribute(
        'aria-pressed',
        String(button.dataset.scale === state.scale),
      );
    }
  };
  for (const button of buttons) {
    button.addEventListener('click', () => {
      state.scale = button.dataset.scale;
      mark();
      remember();
      rescale(state.scale);
    });
  }
  mark();
}

/** Shows the firm a firm viewer sees: its name if the host names it, else its short id. */
function showFirm(firm) {
  $('firm-field').hidden = true;
  $('firm-fixed').hidden = false;
  $('firm-name').replaceChildren(named(firm.id, firm.name));
}

async function start() {
  const params = new URLSearchParams(location.search);
  const wantedDay = (name, fallback) => {
    const value = params.get(name);
    return value && isIsoDay(value) ? value : fallback;
  };
  $('from').value = wantedDay(
    'from',
    isoDay(new Date(Date.now() - 29 * 86400e3)),
  );
  $('to').value = wantedDay('to', isoDay(new Date()));
  state.scale = params.get('scale') === 'full' ? 'full' : 'clip';
  wireCalendars();
  wireScale();

  await loadClientAuth();
  const viewer = await api('viewer', {});
  if (viewer.scope === 'firm') {
    showFirm(viewer.firms[0] ?? { id: viewer.firmId, name: null });
    state.firmId = viewer.firmId;
  } else {
    const select = $('firm');
    select.replaceChildren(
      ...viewer.firms.map((firm) => {
        const option = el('option', null, firm.name || firm.id.slice(0, 8));
        option.value = firm.id;
        option.title = firm.id;
        return option;
      }),
    );
    const wanted = params.get('firmId');
    if (wanted && viewer.firms.some((firm) => firm.id === wanted))
      select.value = wanted;
    select.title = select.value;
    if (!viewer.firms.length) throw new Error('No firms to show yet.');
  }
  if (!readScope()) return;

  $('scope').addEventListener('submit', (event) => {
    event.preventDefault();
    if (readScope()) void show();
  });
  $('firm').addEventListener('change', () => {
    $('firm').title = $('firm').value;
    $('scope').requestSubmit();
  });
  $('trail-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    readFilters();
    void loadTrail(false);
  });
  $('trail-filters').addEventListener('reset', () => {
    state.filters = {};
    void loadTrail(false);
  });
  $('trail-more').addEventListener('click', () => void loadTrail(true));
  $('usage-csv').addEventListener(
    'click',
    () =>
      void download(
        $('usage-csv'),
        'usage.csv',
        range(),
        `llm-cost-summary_${state.from}_${state.to}.csv`,
      ),
  );
  $('trail-csv').addEventListener(
    'click',
    () =>
      void download(
        $('trail-csv'),
        'trail.csv',
        trailParams(),
        `audit-trail_${state.from}_${state.to}.csv`,
      ),
  );
  await show();
  document.body.dataset.ready = 'true';
}

start().catch((error) => {
  showError(error);
  document.body.dataset.failed = 'true';
});
