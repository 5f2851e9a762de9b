import type { DataSource, Repository } from 'typeorm';
import type { MasterRow } from './entities.ts';

export class MastersRepo {
  private readonly repo: Repository<MasterRow>;
  constructor(source: DataSource) {
    this.repo = source.getRepository<MasterRow>('Master');
  }

  async register(name: string, now: number): Promise<MasterRow> {
    const existing = await this.repo.findOneBy({ name });
    return this.repo.save({ ...(existing ?? {}), name, active: true, last_active: now }, { transaction: false });
  }

  async isActive(id: number): Promise<boolean> {
    return (await this.repo.findOneBy({ id }))?.active === true;
  }

  async deactivate(id: number): Promise<void> {
    await this.repo.update({ id }, { active: false });
  }
}
