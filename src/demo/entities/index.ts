import { CmaProject } from './cma-project.entity.js';
import { Firm } from './firm.entity.js';
import { User } from './user.entity.js';

export { CmaProject, Firm, User };

export const DEMO_ENTITIES = [Firm, User, CmaProject];
