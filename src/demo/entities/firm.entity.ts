import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
} from 'typeorm';

/** A tenant of the demo host. The logs reference `firms(id)`. */
@Entity({ name: 'firms' })
export class Firm {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_firms' })
  id: string;

  @Column({ type: 'text' })
  name: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
