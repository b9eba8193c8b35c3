import {
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { Firm } from './firm.entity.js';

/** A user of the demo host, member of one firm. `audit_log.user_id` references `users(id)`. */
@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_users' })
  id: string;

  @Index('idx_users_firm_id')
  @ForeignKey(() => Firm, { name: 'fk_users_firm_id', onDelete: 'CASCADE' })
  @Column({ name: 'firm_id', type: 'uuid' })
  firmId: string;

  @Column({ type: 'text' })
  email: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
