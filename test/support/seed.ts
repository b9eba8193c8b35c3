import type { DataSource } from 'typeorm';
import { CmaProject, Firm, User } from '../../src/demo/entities/index.js';
import { plainUuid } from './ids.js';

/**
 * Inserts a firm of the demo host with one user and one CMA project, and returns their ids: ids the
 * identity detectors take for ids (`plainUuid()`), so that a test storing one in audit metadata
 * cannot fail the run in 70 where a random UUID holds an identity number's shape.
 */
export async function seedFirm(dataSource: DataSource, name = 'firm') {
  const firm = await dataSource
    .getRepository(Firm)
    .save({ id: plainUuid(), name });
  const user = await dataSource
    .getRepository(User)
    .save({ id: plainUuid(), firmId: firm.id, email: `owner@${name}.test` });
  const project = await dataSource
    .getRepository(CmaProject)
    .save({ id: plainUuid(), firmId: firm.id, name: `${name} CMA` });
  return { firmId: firm.id, userId: user.id, projectId: project.id };
}
