import { Inject, Injectable, Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  DASHBOARD_DATA_SOURCE,
  DASHBOARD_DESCRIBE_TIMEOUT_MS,
  DASHBOARD_NAME_MAX,
  DASHBOARD_OPTIONS,
  type DashboardDescribeIds,
  type DashboardViewer,
  type LoggingDashboardOptions,
} from './dashboard.options.js';

/** Display names by id, as the page receives them: only ids asked for, only text. */
export interface ShownNames {
  firms: Record<string, string>;
  users: Record<string, string>;
}

const none = (): ShownNames => ({ firms: {}, users: {} });

/** `value` as a name to show: text with whitespace collapsed, cut at the limit; else undefined. */
function nameOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  // Control characters and runs of whitespace become one space: a name is one line.
  // eslint-disable-next-line no-control-regex
  const text = value.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  if (!text) return undefined;
  const chars = [...text];
  return chars.length > DASHBOARD_NAME_MAX
    ? `${chars.slice(0, DASHBOARD_NAME_MAX - 1).join('')}…`
    : text;
}

/**
 * The names of `ids` in `answer[kind]`, matched without regard to case (UUIDs are shown
 * lowercase); throws when the field is there but not a record.
 */
function pick(
  answer: Record<string, unknown>,
  kind: 'firms' | 'users',
  ids: string[],
): { names: Record<string, string>; dropped: number } {
  const given = answer[kind];
  if (given === undefined || given === null) return { names: {}, dropped: 0 };
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`its ${kind} is not a record of names by id`);
  }
  const byId = new Map<string, unknown>();
  for (const [id, value] of Object.entries(given)) {
    byId.set(id.toLowerCase(), value);
  }
  const names: Record<string, string> = {};
  let dropped = 0;
  for (const id of ids) {
    const value = byId.get(id.toLowerCase());
    if (value === undefined || value === null) continue;
    const name = nameOf(value);
    if (name === undefined) dropped++;
    else names[id] = name;
  }
  return { names, dropped };
}

/**
 * Asks the host's `describe` hook for the names of the ids an answer shows. Never fails the
 * answer: a hook that throws, rejects, times out or answers something else is logged, and its
 * ids are shown as ids.
 */
@Injectable()
export class DashboardNamesService {
  private readonly logger = new Logger('LoggingDashboard');

  constructor(
    @Inject(DASHBOARD_OPTIONS)
    private readonly options: LoggingDashboardOptions,
    @Inject(DASHBOARD_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  async names(
    ids: DashboardDescribeIds,
    viewer: DashboardViewer,
    request: unknown,
  ): Promise<ShownNames> {
    const describe = this.options.describe;
    const asked: DashboardDescribeIds = {
      firmIds: distinct(ids.firmIds),
      userIds: distinct(ids.userIds),
    };
    if (!describe || (!asked.firmIds.length && !asked.userIds.length)) {
      return none();
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer: unknown = await Promise.race([
        Promise.resolve().then(() =>
          describe(asked, { viewer, request, dataSource: this.dataSource }),
        ),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `no answer within ${DASHBOARD_DESCRIBE_TIMEOUT_MS} ms`,
                ),
              ),
            DASHBOARD_DESCRIBE_TIMEOUT_MS,
          );
          timer.unref();
        }),
      ]);
      if (!answer || typeof answer !== 'object' || Array.isArray(answer)) {
        throw new TypeError('its answer is not { firms?, users? }');
      }
      const record = answer as Record<string, unknown>;
      const firms = pick(record, 'firms', asked.firmIds);
      const users = pick(record, 'users', asked.userIds);
      if (firms.dropped || users.dropped) {
        this.logger.warn(
          `The dashboard's describe() named ${firms.dropped + users.dropped} id(s) with ` +
            'something else than non-blank text; those are shown as ids',
        );
      }
      return { firms: firms.names, users: users.names };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(
        `The dashboard's describe() failed (${reason}); the page shows ids instead of names`,
      );
      return none();
    } finally {
      clearTimeout(timer);
    }
  }
}

function distinct(ids: readonly (string | null | undefined)[]): string[] {
  return [
    ...new Set(
      ids.filter((id): id is string => typeof id === 'string' && !!id),
    ),
  ];
}
