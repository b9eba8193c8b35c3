import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditSealQueryError } from './seal.errors.js';
import type { ArchiveFileDigest } from './archive.types.js';
import { MANIFEST_FILE, ROWS_FILE, SEALS_FILE } from './archive-format.js';

/** Bytes gathered before they are written: one write per this many, not one per line. */
const CHUNK = 1 << 20;

/**
 * A file of lines written once, created exclusively: lines are gathered and written in chunks
 * ({@link drain} between batches of rows), hashed as written, and synced to disk on {@link close}.
 */
export class LineFile {
  private readonly hash: Hash = createHash('sha256');
  private pending: string[] = [];
  private size = 0;
  private bytes = 0;
  private lines = 0;

  private constructor(private readonly handle: FileHandle) {}

  static async create(path: string): Promise<LineFile> {
    return new LineFile(await open(path, 'wx'));
  }

  /** Adds one line (without its newline). */
  push(line: string): void {
    this.pending.push(line, '\n');
    this.size += line.length + 1;
    this.lines++;
  }

  /** Writes what was gathered once it is over a chunk, or whatever was gathered with `all`. */
  async drain(all = false): Promise<void> {
    if (!this.pending.length || (!all && this.size < CHUNK)) return;
    const data = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.size = 0;
    this.hash.update(data);
    this.bytes += data.length;
    for (let at = 0; at < data.length;) {
      at += (await this.handle.write(data, at)).bytesWritten;
    }
  }

  /** Writes the rest, syncs and closes the file; returns its digest as the manifest records it. */
  async close(): Promise<ArchiveFileDigest> {
    try {
      await this.drain(true);
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    return {
      sha256: this.hash.digest('hex'),
      bytes: this.bytes,
      lines: this.lines,
    };
  }

  /** Closes the file without syncing, after a failure. */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** Writes `text` to a new file `path` and syncs it. */
export async function writeSynced(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Checks that `dir` is missing or an empty directory (an error naming the field and the rule
 * otherwise); returns whether it is missing, and so will be created.
 */
export async function checkArchiveDir(
  method: string,
  dir: unknown,
): Promise<boolean> {
  if (typeof dir !== 'string' || dir === '') {
    throw new AuditSealQueryError(
      `${method}: dir must be the path of a directory, got ${JSON.stringify(dir)}`,
    );
  }
  try {
    const entries = await readdir(dir);
    if (entries.length) {
      throw new AuditSealQueryError(
        `${method}: dir must be missing or an empty directory; ${dir} holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`,
      );
    }
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code === 'ENOTDIR') {
      throw new AuditSealQueryError(
        `${method}: dir must be a directory; ${dir} is a file`,
      );
    }
    throw error;
  }
}

/** Creates `dir` (and its parents) when it was missing. */
export async function makeArchiveDir(
  dir: string,
  missing: boolean,
): Promise<void> {
  if (missing) await mkdir(dir, { recursive: true });
}

/** Removes what an export wrote into `dir`, and `dir` itself when the export created it. */
export async function removeArchive(
  dir: string,
  created: boolean,
): Promise<void> {
  if (created) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  for (const file of [ROWS_FILE, SEALS_FILE, MANIFEST_FILE]) {
    await rm(join(dir, file), { force: true });
  }
}
