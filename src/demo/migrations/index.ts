import { CreateHostTables1795305600000 } from './1795305600000-create-host-tables.js';

export { CreateHostTables1795305600000 };

export const DEMO_MIGRATIONS = [CreateHostTables1795305600000];
