import { get as httpGet } from 'node:http';

/**
 * Reads `read()` until `done(value)` holds, every 20 ms, for `ms` at most; returns the last value
 * read either way (the caller's expectation then says what was wrong). For rows written after the
 * caller was answered: those of cancelled calls.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 5_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One Server-Sent Event as received: its id and its parsed data. */
export interface ReceivedEvent {
  id?: string;
  data: unknown;
}

/**
 * Opens the SSE stream at `url` on a connection of its own and reads it to its end, or, with
 * `upTo`, until that many events came: then it drops the connection, as a browser leaving the page
 * does.
 */
export function readEvents(
  url: string,
  headers: Record<string, string>,
  upTo?: number,
): Promise<{ status: number; events: ReceivedEvent[] }> {
  return new Promise((resolve, reject) => {
    const events: ReceivedEvent[] = [];
    const request = httpGet(url, { headers, agent: false }, (response) => {
      const done = () => resolve({ status: response.statusCode ?? 0, events });
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
        for (
          let cut = text.indexOf('\n\n');
          cut >= 0;
          cut = text.indexOf('\n\n')
        ) {
          const fields = new Map<string, string>();
          for (const line of text.slice(0, cut).split('\n')) {
            const colon = line.indexOf(':');
            if (colon > 0) {
              fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
            }
          }
          text = text.slice(cut + 2);
          const data = fields.get('data');
          if (data !== undefined) {
            events.push({ id: fields.get('id'), data: JSON.parse(data) });
          }
          if (upTo !== undefined && events.length >= upTo) {
            request.destroy();
            return done();
          }
        }
      });
      response.on('end', done);
    });
    request.on('error', (error) => {
      if (!request.destroyed || upTo === undefined) reject(error);
    });
  });
}
