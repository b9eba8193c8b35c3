import { type INestApplication, ValidationPipe } from '@nestjs/common';

/** What the demo host sets on its app in `main.ts` and in the tour: DTO validation at the edge. */
export function configureDemoApp(app: INestApplication): INestApplication {
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
    }),
  );
  app.enableShutdownHooks();
  return app;
}
