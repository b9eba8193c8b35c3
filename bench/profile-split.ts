/**
 * Where the main thread's time per request goes, in two variants of bench/endpoint, side by side:
 * the profiles of the measured windows (`BENCH_PROFILE_DIR=<dir> node dist/bench/endpoint.js`)
 * and the figures written beside them.
 *
 *   node dist/bench/profile-split.js <dir> <base variant> <variant> [route] [mode]
 *
 * route: `projects` by default; mode: `coarse` (by package), `detail` (by package, the module by
 * file, Node by its module) or `functions` (the module by function).
 *
 * Each sample is charged to the nearest frame on its stack that belongs to a package (`pg`,
 * `rxjs`, `@nestjs/core`...), to this module (`dist/src/logging/...`) or to the bench's app, so
 * that Node's own functions and V8's builtins (`JSON.stringify`, `createHmac`, promises) count for
 * whoever called them; samples with no such frame are Node's own (the event loop, the HTTP parser,
 * sockets). The collector (`(garbage collector)`) and V8's work outside JavaScript (`(program)`)
 * stand apart; idle samples are left out. The rounds of each variant are summed, then divided by
 * their requests: µs per request. Sampling counts wall time, so on a loaded machine a profile's
 * total exceeds the CPU the thread got; the last lines scale each column to the main-thread CPU
 * measured over the same windows (`process.threadCpuUsage()`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface RunFigures {
  requests: number;
  mainThreadCpuUsPerRequest?: number;
  gcPauseUsPerRequest?: number;
}

/** With `functions`: the module's frames by function, not by file. */
let byFunction = false;

/** Which package, file of the module, or part of Node a frame's code belongs to; '' for none. */
function owner(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    return functionName.startsWith('(') ? functionName : '';
  }
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const [first, second] = url
      .slice(modules + '/node_modules/'.length)
      .split('/');
    return first.startsWith('@') ? `${first}/${second}` : first;
  }
  const logging = url.indexOf('/dist/src/logging/');
  if (logging >= 0) {
    const file = url.slice(logging + '/dist/src/logging/'.length);
    return byFunction
      ? `module ${file} ${functionName || '(anonymous)'}:${frame.lineNumber + 1}`
      : `module ${file}`;
  }
  if (url.includes('/dist/bench/') || url.includes('/dist/src/demo/')) {
    return 'bench app';
  }
  if (url.startsWith('node:')) return '';
  return url;
}

/** Node's own work, by its module, when no package's or app's frame is above it. */
function nodeOwner(frame: CallFrame): string {
  return frame.url.startsWith('node:') ? `node ${frame.url.slice(5)}` : '';
}

/** µs per category over one profile (the sample charged as described above), idle left out. */
function split(profile: Profile, detail: boolean): Map<string, number> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const charged = new Map<number, string>();
  const chargeOf = (id: number): string => {
    const known = charged.get(id);
    if (known !== undefined) return known;
    let key = '';
    let nodeKey = '';
    for (let at: number | undefined = id; at !== undefined;) {
      const frame = byId.get(at)!.callFrame;
      key = owner(frame);
      if (key !== '') break;
      if (nodeKey === '') nodeKey = nodeOwner(frame);
      at = parent.get(at);
    }
    if (key === '(root)' || key === '') key = nodeKey || 'node (native)';
    if (!detail) key = coarse(key);
    charged.set(id, key);
    return key;
  };
  const totals = new Map<string, number>();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // a sample stands for the time until the next one
    const us =
      i + 1 < samples.length
        ? timeDeltas[i + 1]
        : profile.endTime -
          (profile.startTime + timeDeltas.reduce((a, b) => a + b, 0));
    const key = chargeOf(samples[i]);
    if (key === '(idle)') continue;
    totals.set(key, (totals.get(key) ?? 0) + Math.max(0, us));
  }
  return totals;
}

const GROUPS: [RegExp, string][] = [
  [/^module /, 'this module'],
  [
    /^(pg|pg-protocol|pg-pool|pg-types|pg-connection-string|postgres-.*)$/,
    'pg',
  ],
  [/^typeorm$/, 'typeorm'],
  [/^rxjs$/, 'rxjs'],
  [/^@nestjs\//, 'nest'],
  [/^(class-validator|validator)$/, 'class-validator'],
  [
    /^(express|body-parser|router|raw-body|iconv-lite|finalhandler|send|on-finished|qs|type-is|content-type|debug|depd|media-typer|mime-types|path-to-regexp|statuses|http-errors|safe-buffer|encodeurl|escape-html|parseurl|vary|cookie|etag|fresh|proxy-addr|forwarded|ipaddr.js|accepts|negotiator|merge-descriptors|utils-merge|setprototypeof|serve-static|content-disposition|methods|range-parser|array-flatten|bytes|unpipe|destroy|ee-first|inherits|toidentifier|side-channel.*|call-bind.*|get-intrinsic|es-.*|gopd|has-.*|hasown|function-bind|object-inspect|dunder-proto|math-intrinsics|get-proto)$/,
    'express',
  ],
  [/^node /, 'node'],
];

function coarse(key: string): string {
  for (const [pattern, group] of GROUPS) if (pattern.test(key)) return group;
  return key;
}

interface Variant {
  totals: Map<string, number>;
  requests: number;
  mainThreadUs: number;
  gcPauseUs: number;
  runs: number;
}

function load(
  dir: string,
  variant: string,
  route: string,
  detail: boolean,
): Variant {
  const out: Variant = {
    totals: new Map(),
    requests: 0,
    mainThreadUs: 0,
    gcPauseUs: 0,
    runs: 0,
  };
  const prefix = `${variant}-${route}-`;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix) || !name.endsWith('.cpuprofile')) continue;
    const base = name.slice(0, -'.cpuprofile'.length);
    // `buffered-projects-…` must not take `buffered-otel-projects-…`: the pid follows the route
    if (!/^\d+$/.test(base.slice(prefix.length))) continue;
    const figures = JSON.parse(
      readFileSync(join(dir, `${base}.json`), 'utf8'),
    ) as RunFigures;
    const profile = JSON.parse(
      readFileSync(join(dir, name), 'utf8'),
    ) as Profile;
    for (const [key, us] of split(profile, detail)) {
      out.totals.set(key, (out.totals.get(key) ?? 0) + us);
    }
    out.requests += figures.requests;
    out.mainThreadUs +=
      (figures.mainThreadCpuUsPerRequest ?? NaN) * figures.requests;
    out.gcPauseUs += (figures.gcPauseUsPerRequest ?? NaN) * figures.requests;
    out.runs++;
  }
  if (out.runs === 0) throw new Error(`no profiles of ${prefix}* in ${dir}`);
  return out;
}

/**
 * Prints each category's µs per request in both variants, scaled so that each variant's column
 * sums to its measured main-thread CPU per request (the profile's samples count wall time): the
 * differences then sum to the measured difference. The raw profile totals follow.
 */
function table(base: Variant, other: Variant, baseName: string, name: string) {
  const keys = new Set([...base.totals.keys(), ...other.totals.keys()]);
  const sum = (v: Variant) =>
    [...v.totals.values()].reduce((a, b) => a + b, 0) / v.requests;
  const measured = (v: Variant) => v.mainThreadUs / v.requests;
  // without a measured CPU (Node before 23.9), the profile's own figures
  const scale = (v: Variant) =>
    Number.isFinite(measured(v)) ? measured(v) / sum(v) : 1;
  const per = (v: Variant, key: string) =>
    ((v.totals.get(key) ?? 0) / v.requests) * scale(v);
  const rows = [...keys]
    .map((key) => ({ key, a: per(base, key), b: per(other, key) }))
    .sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a));
  const fmt = (n: number) => n.toFixed(1).padStart(10);
  const signed = (n: number) =>
    `${n >= 0 ? '+' : ''}${n.toFixed(1)}`.padStart(10);
  const line = (label: string, a: number, b: number) =>
    console.log(`${label.padEnd(44)}${fmt(a)}${fmt(b)}${signed(b - a)}`);
  console.log(
    `${'main-thread µs per request'.padEnd(44)}${baseName.padStart(10)}${name.padStart(10)}      diff`,
  );
  let shown = [0, 0];
  let rest = [0, 0];
  for (const { key, a, b } of rows) {
    if (Math.abs(b - a) < 0.5) {
      rest = [rest[0] + a, rest[1] + b];
      continue;
    }
    shown = [shown[0] + a, shown[1] + b];
    line(key, a, b);
  }
  line('the rest (each under 0.5 apart)', rest[0], rest[1]);
  line('sum: measured main-thread CPU', shown[0] + rest[0], shown[1] + rest[1]);
  line('profile, not idle (wall time sampled)', sum(base), sum(other));
  line(
    'GC pauses (PerformanceObserver)',
    base.gcPauseUs / base.requests,
    other.gcPauseUs / other.requests,
  );
  console.log(
    `(${base.runs} and ${other.runs} runs, ${base.requests} and ${other.requests} requests; profile scaled by ${scale(base).toFixed(3)} and ${scale(other).toFixed(3)})`,
  );
}

function main(): void {
  const [dir, baseName, name, route = 'projects', mode = 'coarse'] =
    process.argv.slice(2);
  if (!dir || !baseName || !name) {
    throw new Error(
      'usage: profile-split <dir> <base variant> <variant> [route] [coarse|detail|functions]',
    );
  }
  const detail = mode !== 'coarse';
  byFunction = mode === 'functions';
  table(
    load(dir, baseName, route, detail),
    load(dir, name, route, detail),
    baseName,
    name,
  );
}

main();
