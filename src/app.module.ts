import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProjectsController } from './demo/actions/projects.controller.js';
import { demoDataSourceOptions } from './demo/database/data-source.js';
import { CmaProject } from './demo/entities/index.js';
import { HealthController } from './demo/health.controller.js';
import { SimulatedLlm } from './demo/simulated-llm.js';
import { LoggingModule } from './logging/index.js';

/**
 * The demo host: its own connection (migrations run at boot), the LoggingModule, a health check,
 * and the seed's five actions on CMA projects, audited, with simulated LLM calls tracked.
 */
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
        TypeOrmModule.forFeature([CmaProject]),
        LoggingModule.forRoot({}),
      ],
      controllers: [HealthController, ProjectsController],
      providers: [SimulatedLlm],
    };
  }
}
