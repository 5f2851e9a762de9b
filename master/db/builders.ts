import type { DataSource, Repository } from 'typeorm';
import type { BuilderRow } from './entities.ts';

export class BuildersRepo {
  private readonly repo: Repository<BuilderRow>;
  constructor(source: DataSource) {
    this.repo = source.getRepository<BuilderRow>('Builder');
  }

  /** Records the configured builders; builders dropped from the config keep their history. */
  async sync(builders: { name: string; description?: string | undefined; tags: string[] }[]): Promise<Map<string, BuilderRow>> {
    const byName = new Map<string, BuilderRow>();
    for (const b of builders) {
      const values = { name: b.name, description: b.description ?? null, tags: JSON.stringify(b.tags) };
      const existing = await this.repo.findOneBy({ name: b.name });
      // An update of the configured columns only: saving the row read above would write back its
      // build counter, undoing numbers another master handed out since (see BuildsRepo.create).
      if (existing) await this.repo.update({ id: existing.id }, values);
      const row = existing ? { ...existing, ...values } : await this.repo.save(values, { transaction: false });
      byName.set(b.name, row);
    }
    return byName;
  }

  list(): Promise<BuilderRow[]> {
    return this.repo.find({ order: { id: 'ASC' } });
  }

  get(id: number): Promise<BuilderRow | null> {
    return this.repo.findOneBy({ id });
  }
}
