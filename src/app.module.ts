import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProjectsController } from './demo/actions/projects.controller.js';
import { demoDataSourceOptions } from './demo/database/data-source.js';
import { CmaProject } from './demo/entities/index.js';
import { HealthController } from './demo/health.controller.js';
import { SimulatedLlm } from './demo/simulated-llm.js';
import { LoggingDashboardModule } from './logging/dashboard/index.js';
import { LoggingModule, type LoggingModuleOptions } from './logging/index.js';

/** Where the demo mounts the dashboard. */
export const DASHBOARD_PATH = 'dashboard';

/**
 * The demo host: its own connection (migrations run at boot), the LoggingModule, a health check,
 * the seed's five actions on CMA projects, audited, with simulated LLM calls tracked, and the usage
 * and audit dashboard at /dashboard/.
 */
@Module({})
export class AppModule {
  /**
   * @param logging the LoggingModule's options; the tour seals with `settleMs: 0`, right after
   *   flushing its own writes, with nothing else writing
   */
  static forDatabase(
    url: string,
    logging: LoggingModuleOptions = {},
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({
          ...demoDataSourceOptions(url),
          migrationsRun: true,
        }),
        TypeOrmModule.forFeature([CmaProject]),
        LoggingModule.forRoot(logging),
        // A demo on the loopback interface: open to whoever runs it, which the module logs as a
        // warning at startup. A real host gives authorize or guard instead.
        LoggingDashboardModule.forRoot({
          path: DASHBOARD_PATH,
          allowUnauthenticated: true,
          listFirms: (db) =>
            db.query('SELECT id, name FROM firms ORDER BY name, id LIMIT 1000'),
        }),
      ],
      controllers: [HealthController, ProjectsController],
      providers: [SimulatedLlm],
    };
  }
}
