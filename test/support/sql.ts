import type { Client } from 'pg';

/** The error PostgreSQL answers `sql` with; fails the test if the statement succeeds. */
export async function refusal(
  client: Client,
  sql: string,
  parameters: unknown[] = [],
): Promise<{ code?: string; message: string }> {
  const error = await client.query(sql, parameters).then(
    () => undefined,
    (e: unknown) => e as { code?: string; message: string },
  );
  expect(error).toBeDefined();
  return error!;
}
