import { type INestApplication, ValidationPipe } from '@nestjs/common';

/**
 * What the demo host sets on its app in `main.ts` and in the tour: DTO validation at the edge.
 * No `enableShutdownHooks()`: the demo's processes own their signals (demo-process.ts) and call
 * `app.close()` themselves, before stopping the embedded PostgreSQL; a host without an embedded
 * database calls `app.enableShutdownHooks()` instead (docs/writer-and-durability.md).
 */
export function configureDemoApp(app: INestApplication): INestApplication {
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
    }),
  );
  return app;
}
