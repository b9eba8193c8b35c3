import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule, DASHBOARD_PATH } from './app.module.js';
import { configureDemoApp } from './demo/configure.js';
import { resolveDemoDatabase } from './demo/database/data-source.js';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Demo');
  const database = await resolveDemoDatabase();
  try {
    const app = configureDemoApp(
      await NestFactory.create(AppModule.forDatabase(database.url)),
    );
    await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
    logger.log(`Database: ${database.description}`);
    const url = await app.getUrl();
    logger.log(`Listening on ${url} (try GET /health)`);
    logger.log(`Dashboard: ${url}/${DASHBOARD_PATH}/`);
  } catch (error) {
    await database.stop();
    throw error;
  }
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
