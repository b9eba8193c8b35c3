import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule, DASHBOARD_PATH } from './app.module.js';
import { configureDemoApp } from './demo/configure.js';
import { resolveDemoDatabase } from './demo/database/data-source.js';
import { DemoProcess } from './demo/demo-process.js';

const logger = new Logger('Demo');
const demo = new DemoProcess({ logger });

/**
 * `npm start`: the demo host on the embedded database (or `DATABASE_URL`) until SIGINT, SIGTERM or
 * SIGHUP, which close the app, then stop the embedded PostgreSQL (demo-process.ts).
 */
async function bootstrap(): Promise<void> {
  await demo.handleSignals();
  const database = await demo.start('the database', resolveDemoDatabase, (db) =>
    db.stop(),
  );
  const app = await demo.start(
    'the app',
    async () =>
      configureDemoApp(
        await NestFactory.create(AppModule.forDatabase(database.url)),
      ),
    (created) => created.close(),
    { deadline: true },
  );
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  logger.log(`Database: ${database.description}`);
  const url = await app.getUrl();
  logger.log(`Listening on ${url} (try GET /health)`);
  logger.log(`Dashboard: ${url}/${DASHBOARD_PATH}/`);
}

bootstrap().catch(async (error: unknown) => {
  if (demo.signalled) return; // the signal's handler stops the process
  console.error(error);
  await demo.stop();
  process.exit(1);
});
