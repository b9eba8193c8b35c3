import { createServer } from 'node:net';
import { jest } from '@jest/globals';
import { onDatabase } from './cli-database.js';

describe('onDatabase', () => {
  it('gives the tool its exit code for a connection that cannot be made, says why, and runs nothing', async () => {
    // a port that refuses: opened, then closed again
    const server = createServer();
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));

    const printed = jest.spyOn(console, 'error').mockImplementation(() => {});
    const work = jest.fn(() => Promise.resolve(0));
    try {
      await expect(
        onDatabase(`postgres://nobody@127.0.0.1:${port}/none`, 7, work),
      ).resolves.toBe(7);
      expect(work).not.toHaveBeenCalled();
      expect(printed).toHaveBeenCalledTimes(1);
      expect(String(printed.mock.calls[0][0])).toMatch(
        /^cannot connect: .*ECONNREFUSED/,
      );
    } finally {
      printed.mockRestore();
    }
  });
});
