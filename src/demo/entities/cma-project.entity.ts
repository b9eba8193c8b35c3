import {
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { Firm } from './firm.entity.js';

/** A CMA project of the demo host. `llm_usage_log.cma_project_id` references `cma_projects(id)`. */
@Entity({ name: 'cma_projects' })
export class CmaProject {
  @PrimaryGeneratedColumn('uuid', {
    primaryKeyConstraintName: 'pk_cma_projects',
  })
  id: string;

  @Index('idx_cma_projects_firm_id')
  @ForeignKey(() => Firm, {
    name: 'fk_cma_projects_firm_id',
    onDelete: 'CASCADE',
  })
  @Column({ name: 'firm_id', type: 'uuid' })
  firmId: string;

  @Column({ type: 'text' })
  name: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
