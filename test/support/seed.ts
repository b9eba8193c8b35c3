import type { DataSource } from 'typeorm';
import { CmaProject, Firm, User } from '../../src/demo/entities/index.js';

/** Inserts a firm of the demo host with one user and one CMA project, and returns their ids. */
export async function seedFirm(dataSource: DataSource, name = 'firm') {
  const firm = await dataSource.getRepository(Firm).save({ name });
  const user = await dataSource
    .getRepository(User)
    .save({ firmId: firm.id, email: `owner@${name}.test` });
  const project = await dataSource
    .getRepository(CmaProject)
    .save({ firmId: firm.id, name: `${name} CMA` });
  return { firmId: firm.id, userId: user.id, projectId: project.id };
}
