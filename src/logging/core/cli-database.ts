import { DataSource } from 'typeorm';

/**
 * Runs a command-line tool's `work` on a DataSource connected to `url`, and closes it after. A
 * connection that cannot be made prints `cannot connect: …` and gives `connectFailed`, the tool's
 * exit code for it; `work` answers every other exit code itself.
 */
export async function onDatabase(
  url: string,
  connectFailed: number,
  work: (dataSource: DataSource) => Promise<number>,
): Promise<number> {
  const dataSource = new DataSource({ type: 'postgres', url, entities: [] });
  try {
    await dataSource.initialize();
  } catch (error) {
    console.error(`cannot connect: ${(error as Error).message}`);
    return connectFailed;
  }
  try {
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
