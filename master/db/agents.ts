import type { DataSource, Repository } from 'typeorm';
import type { AgentRow } from './entities.ts';

export class AgentsRepo {
  private readonly repo: Repository<AgentRow>;
  constructor(source: DataSource) {
    this.repo = source.getRepository<AgentRow>('Agent');
  }

  async connected(name: string, info: Record<string, unknown>, masterid: number, now: number): Promise<void> {
    const existing = await this.repo.findOneBy({ name });
    await this.repo.save(
      { ...(existing ?? {}), name, info: JSON.stringify(info), connected_to_masterid: masterid, last_connected_at: now },
      { transaction: false },
    );
  }

  async disconnected(name: string): Promise<void> {
    await this.repo.update({ name }, { connected_to_masterid: null });
  }

  /** At start-up nothing is connected to this master yet, whatever an earlier run left. */
  async clearMaster(masterid: number): Promise<void> {
    await this.repo.update({ connected_to_masterid: masterid }, { connected_to_masterid: null });
  }

  list(): Promise<AgentRow[]> {
    return this.repo.find({ order: { id: 'ASC' } });
  }
}
