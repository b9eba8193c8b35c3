import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedPortFor } from '../src/demo/database/data-source.js';
import { postgresUserAccessProblem } from '../src/demo/database/postgres-user-access.js';

/**
 * The embedded server's own checks, made before anything is spawned: a folder its `postgres` user
 * cannot enter, and the port of a data folder. Nothing here starts a server.
 */

describe('embedded PostgreSQL', () => {
  let outer: string;

  beforeAll(async () => {
    outer = await mkdtemp(join(tmpdir(), 'logging-access-'));
    await chmod(outer, 0o755); // mkdtemp's 0700 would be the first folder in the way
  });
  afterAll(() => rm(outer, { recursive: true, force: true }));

  async function folder(name: string, mode: number): Promise<string> {
    const path = join(outer, name);
    await mkdir(path);
    await chmod(path, mode);
    return path;
  }

  it('as root, names a 0700 folder on the way to the binaries and both ways out', async () => {
    const closed = await folder('closed', 0o700);
    const binaries = join(closed, 'clone/node_modules/.bin');
    const problem = await postgresUserAccessProblem(binaries, '/tmp', {
      uid: 0,
    });
    expect(problem).toContain(
      `cannot enter ${closed} (mode 0700, owner ${process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`})`,
    );
    expect(problem).toContain('the PostgreSQL binaries');
    expect(problem).toContain('set DATABASE_URL');
    expect(problem).toContain('a folder other users can enter');
    expect(problem).toContain(`chmod o+x ${closed}`);
  });

  it('as root, names a 0700 folder on the way to the data folder, with EMBEDDED_PG_DIR', async () => {
    const open = await folder('open', 0o755);
    const closed = await folder('private', 0o700);
    const problem = await postgresUserAccessProblem(
      open,
      join(closed, 'project'),
      { uid: 0 },
    );
    expect(problem).toContain(`cannot enter ${closed}`);
    expect(problem).toContain('the data folder');
    expect(problem).toContain('EMBEDDED_PG_DIR');
    // it only read the folders: nothing was created
    expect(await readdir(closed)).toEqual([]);
  });

  it('as root, has nothing to say when every folder on both ways can be entered', async () => {
    const open = await folder('reachable', 0o755);
    expect(
      await postgresUserAccessProblem(open, join(open, 'data'), { uid: 0 }),
    ).toBeNull();
  });

  it('as another user, has nothing to say: the server runs as that user', async () => {
    const closed = await folder('mine', 0o700);
    expect(
      await postgresUserAccessProblem(closed, closed, { uid: 1000 }),
    ).toBeNull();
  });

  it('derives a stable port from 55000 to 59999 from the data folder, another for another folder', () => {
    const ports = [
      '/a/clone/.pgdata',
      '/b/clone/.pgdata',
      '/a/clone2/.pgdata',
    ].map(embeddedPortFor);
    expect(new Set(ports).size).toBe(3);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(55000);
      expect(port).toBeLessThanOrEqual(59999);
    }
    expect(embeddedPortFor('/a/clone/.pgdata')).toBe(ports[0]);
    expect(embeddedPortFor('/a/clone/./.pgdata')).toBe(ports[0]);
  });
});
