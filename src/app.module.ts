import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { demoDataSourceOptions } from './demo/database/data-source.js';
import { HealthController } from './demo/health.controller.js';
import { LoggingModule } from './logging/index.js';

/** The demo host: its own connection (migrations run at boot), the LoggingModule, a health check. */
@Module({})
export class AppModule {
  static forDatabase(url: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({
          ...demoDataSourceOptions(url),
          migrationsRun: true,
        }),
        LoggingModule.forRoot({}),
      ],
      controllers: [HealthController],
    };
  }
}
