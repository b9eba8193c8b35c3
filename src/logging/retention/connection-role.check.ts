import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  AUDIT_LOG_TABLE,
  DATABASE_OPTIONS,
  LOGGING_DATA_SOURCE,
} from '../core/logging.constants.js';

/** How the module treats the database role it connects as (`database` in `forRoot`). */
export interface DatabaseRoleOptions {
  /**
   * When the application connects as a role the database's guarantees do not hold against (the
   * owner of the log tables, a member of the owning role, or a superuser): `'warn'` once at
   * startup, `'refuse'` to start, or `'allow'` silently (a sandbox where one role does everything,
   * as the demo's embedded server). Default: `'warn'`.
   */
  ownerConnection?: 'warn' | 'refuse' | 'allow';
}

export type ResolvedDatabaseRoleOptions = Required<DatabaseRoleOptions>;

/** Merges `options` over the defaults, refusing values that cannot work. */
export function resolveDatabaseRoleOptions(
  options: DatabaseRoleOptions = {},
): ResolvedDatabaseRoleOptions {
  const ownerConnection = options.ownerConnection ?? 'warn';
  if (!['warn', 'refuse', 'allow'].includes(ownerConnection)) {
    throw new Error(
      `LoggingModule: database.ownerConnection must be 'warn', 'refuse' or 'allow', got ${JSON.stringify(ownerConnection)}`,
    );
  }
  return { ownerConnection };
}

/** Process-wide: one warning, however many apps a process boots. */
let warned = false;

/**
 * At startup, tells when the application connects as a role the database's guarantees do not hold
 * against: the owner of the log tables (or a member of the owning role), or a superuser. Such a
 * role can disable the append-only triggers, move the retention floor and date rows as it likes;
 * only seals published outside the database then make its edits evident.
 */
@Injectable()
export class ConnectionRoleCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('LoggingModule');

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(DATABASE_OPTIONS)
    private readonly options: ResolvedDatabaseRoleOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { ownerConnection } = this.options;
    if (ownerConnection === 'allow' || (ownerConnection === 'warn' && warned)) {
      return;
    }
    const [role] = await this.dataSource
      .query<{ name: string; superuser: boolean; owner: string | null }[]>(
        `SELECT current_user AS name, r.rolsuper AS superuser,
              (SELECT pg_get_userbyid(c.relowner) FROM pg_class c
                WHERE c.oid = to_regclass($1)
                  AND pg_has_role(current_user, c.relowner, 'MEMBER')) AS owner
         FROM pg_roles r WHERE r.rolname = current_user`,
        [AUDIT_LOG_TABLE],
      )
      .catch((error: unknown) => {
        // 'refuse' fails closed; 'warn' says it could not look, and starts
        if (ownerConnection === 'refuse') throw error;
        this.logger.warn(
          `could not read the role the application connects as: ${String(error)}`,
        );
        return [];
      });
    if (!role || (!role.superuser && role.owner === null)) return;
    const what = role.superuser
      ? 'a superuser'
      : role.owner === role.name
        ? `the owner of ${AUDIT_LOG_TABLE} and the other logging tables`
        : `a member of ${role.owner}, which owns ${AUDIT_LOG_TABLE} and the other logging tables`;
    const message =
      `connected as ${role.name}, ${what}: the database's guarantees do not hold against this role. ` +
      'It can disable the append-only triggers, move the retention floor and write rows with any created_at; ' +
      'only seals published outside the database make its edits evident. Run the migrations as the owner and ' +
      'connect the application as a role with INSERT and SELECT on the tables and EXECUTE on the functions ' +
      '(docs/retention-and-append-only.md#roles)';
    if (ownerConnection === 'refuse') {
      throw new Error(
        `LoggingModule: ${message}; database.ownerConnection is 'refuse'`,
      );
    }
    warned = true;
    this.logger.warn(message);
  }
}
