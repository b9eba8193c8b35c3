import { ConfigurableModuleBuilder } from '@nestjs/common';
import type {
  LoggingModuleExtras,
  LoggingModuleOptions,
} from './logging.options.js';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: LOGGING_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<LoggingModuleOptions>({
  moduleName: 'Logging',
})
  .setClassMethodName('forRoot')
  .setExtras<LoggingModuleExtras>(
    { isGlobal: true, dataSource: undefined },
    (definition, extras) => ({ ...definition, global: extras.isGlobal }),
  )
  .build();
